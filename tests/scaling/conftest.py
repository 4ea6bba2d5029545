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
