from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from django_rag import checks
from django_rag.vector_indexes import index_exists

HASHING = "django_rag.embedders.hashing.Embedder"


def ids(messages):
    return sorted(m.id for m in messages)


def test_default_configuration_is_clean():
    assert [m for m in run_checks() if m.id.startswith("django_rag")] == []


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"CHUNK_SIZE": "1000"}, "django_rag.E010"),
        ({"CHUNK_SIZE": True}, "django_rag.E010"),
        ({"SEPARATORS": "\n"}, "django_rag.E010"),
        ({"EMBED_BATCH_SIZE": 0}, "django_rag.E011"),
        ({"CHUNK_SIZE": 100, "CHUNK_OVERLAP": 100}, "django_rag.E011"),
        ({"EMBEDDERS": {}}, "django_rag.E002"),
        ({"EMBEDDERS": {"default": {"BACKEND": "django_rag.embedders.missing.Embedder"}}}, "django_rag.E001"),
        ({"EMBEDDERS": {"default": {"BACKEND": HASHING, "OPTIONS": {"dimensions": "many"}}}}, "django_rag.E001"),
        ({"ACCESS_POLICY": "tests.nowhere.policy"}, "django_rag.E040"),
        ({"ACCESS_POLICY": "django_rag.conf.DEFAULTS"}, "django_rag.E040"),
        ({"ACCESS_POLICY": 42}, "django_rag.E010"),
    ],
)
def test_bad_settings_are_reported(overrides, expected):
    with override_settings(DJANGO_RAG=overrides):
        messages = [m for m in run_checks() if m.id.startswith("django_rag")]
    assert expected in ids(messages)
    message = next(m for m in messages if m.id == expected)
    assert "DJANGO_RAG" in message.msg + str(message.obj) + (message.hint or "")


def test_extension_check_messages():
    assert checks.extension_check("default", installed=True, available=True, tables=[]) == []
    # Before the first migrate, a missing-but-available extension is expected.
    assert checks.extension_check("default", installed=False, available=True, tables=[]) == []
    assert ids(checks.extension_check("default", installed=False, available=False, tables=[])) == ["django_rag.E004"]
    assert ids(checks.extension_check("default", installed=False, available=True, tables=["django_rag_chunk"])) == [
        "django_rag.E009"
    ]


@pytest.mark.django_db
def test_database_checks_pass_after_migrate():
    messages = checks.check_database(databases=["default"])
    assert messages == []


@pytest.mark.django_db
def test_missing_extension_is_an_error_once_tables_exist():
    # DDL is transactional in PostgreSQL: the test transaction brings the extension back.
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION vector CASCADE")
    assert "django_rag.E009" in ids(checks.check_database(databases=["default"]))


@pytest.mark.django_db
def test_embedder_without_index_warns_and_sync_command_fixes_it(capsys):
    new = {"default": {"BACKEND": HASHING, "OPTIONS": {"dimensions": 48}}}
    with override_settings(DJANGO_RAG={"EMBEDDERS": new}):
        assert ids(checks.check_database(databases=["default"])) == ["django_rag.W001"]
        call_command("rag_sync_indexes")
        assert "created" in capsys.readouterr().out
        assert checks.check_database(databases=["default"]) == []
        call_command("rag_sync_indexes")
        assert "exists" in capsys.readouterr().out


@pytest.mark.django_db
def test_an_embedder_too_large_for_hnsw_warns_instead_of_asking_for_an_index(capsys):
    huge = {"default": {"BACKEND": HASHING, "OPTIONS": {"dimensions": 4001}}}
    with override_settings(DJANGO_RAG={"EMBEDDERS": huge}):
        assert ids(checks.check_database(databases=["default"])) == ["django_rag.W004"]
        call_command("rag_sync_indexes")
        assert "no index (more than 4000 dimensions" in capsys.readouterr().out


def test_vector_index_precision_must_be_known():
    with override_settings(DJANGO_RAG={"VECTOR_INDEX_PRECISION": "quarter"}):
        assert ids(checks.check_settings()) == ["django_rag.E011"]


@pytest.mark.django_db
def test_sync_command_lists_and_drops_stale_indexes(capsys):
    from django_rag.vector_indexes import stale_indexes

    other = {"default": {"BACKEND": HASHING, "OPTIONS": {"dimensions": 48}}}
    with override_settings(DJANGO_RAG={"EMBEDDERS": other}):
        stale = stale_indexes()
        assert stale  # the index of the test settings' embedder
        call_command("rag_sync_indexes")
        out = capsys.readouterr().out
        assert all(f"{name}: stale" in out for name in stale)
        call_command("rag_sync_indexes", "--drop-stale")
        assert all(f"{name}: dropped" in capsys.readouterr().out for name in stale)
        assert stale_indexes() == []


def test_e003_on_sqlite_says_how_to_get_postgresql(tmp_path):
    """A real project on SQLite (a subprocess: this one's connections are PostgreSQL)."""
    import os
    import subprocess
    import sys

    (tmp_path / "sqlite_site.py").write_text(
        "SECRET_KEY = 'x'\nUSE_TZ = True\n"
        "INSTALLED_APPS = ['django.contrib.contenttypes', 'django.contrib.auth', 'django_rag']\n"
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', 'NAME': {str(tmp_path / 'db.sqlite3')!r}}}}}\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sqlite_site",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", ""), os.getcwd()])}
    done = subprocess.run([sys.executable, "-m", "django", "check", "--database", "default"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "django_rag.E003" in done.stderr
    assert "django-rag[embedded]" in done.stderr and "database_settings(" in done.stderr
    assert "pgvector" in done.stderr.split("HINT:", 1)[1]


class _LeakyBackend:
    """A site's own backend whose constructor quotes the key it was given."""

    def __init__(self, *, alias, api_key=None, **options):
        raise ValueError(f"refused the key {api_key}")


LEAKY = "tests.test_checks._LeakyBackend"
KEY = "sk-proj-abcdefghijklmnop123456"


@pytest.mark.parametrize(
    "setting, default, expected_id",
    [
        ("EMBEDDERS", {"BACKEND": LEAKY, "OPTIONS": {"api_key": KEY}}, "django_rag.E001"),
        ("LLMS", {"BACKEND": LEAKY, "OPTIONS": {"api_key": KEY}}, "django_rag.E012"),
    ],
)
def test_a_backend_that_cannot_be_built_is_reported_without_its_secret(setting, default, expected_id):
    # Embedders and LLMs go through the same check (issue 19, item 2): both redact.
    with override_settings(DJANGO_RAG={setting: {"default": default}}):
        messages = [m for m in run_checks() if m.id == expected_id]
    assert len(messages) == 1 and "could not be created: ValueError: refused the key" in messages[0].msg
    assert KEY not in messages[0].msg and "[redacted]" in messages[0].msg
