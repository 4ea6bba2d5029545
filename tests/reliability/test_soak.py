"""benchmarks/soak.py for 30 seconds: two workers ingesting while 20 clients search and ask.

Runs the benchmark script itself (its processes: gunicorn, two qclusters, the clients)
on the test database. The five-minute figures are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.conf import settings

from tests.surfaces.test_worker import test_database_url

from .conftest import worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_30_second_soak_loses_nothing_and_answers_no_server_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "benchmarks/soak.py", "--duration", "30", "--interval", "0.5", "--drain", "60", "--json",
         "--database-url", test_database_url(), "--logs", str(tmp_path)],
        env=worker_env(), cwd=settings.REPO_DIR, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in tmp_path.glob("*.log"))
    documents = figures["documents"]
    assert figures["server_errors"] == 0, (figures["statuses"], logs)
    assert figures["other_errors"] == 0 and figures["upload_errors"] == [], figures
    assert documents["lost"] == [] and documents["duplicate_chunks"] == 0 and documents["pending"] == 0, (documents, logs)
    assert documents["uploaded"] >= 10 and documents["bad"] >= 2
    assert documents["states"] == {"ready": documents["uploaded"] - documents["bad"], "failed": documents["bad"]}
    assert all(endpoint["ok"] > 0 for endpoint in figures["endpoints"].values())
    assert all(figures["alive_at_end"].values()), figures["alive_at_end"]
