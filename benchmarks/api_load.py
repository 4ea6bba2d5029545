#!/usr/bin/env python
"""The REST API under load: 50 concurrent clients for 60 s on /search and on /ask, 100,000 chunks.

    .venv/bin/python benchmarks/api_load.py                  # about 5 minutes, plus 10 to load the first time
    .venv/bin/python benchmarks/api_load.py --duration 10 --clients 10 --no-write   # a quick look

What runs, all on 127.0.0.1:

* Data: the SciFact abstracts copied and varied to 100,000 chunks with hashing vectors
  (384 dimensions), built and loaded exactly as benchmarks/latency.py does, in a database
  of its own (``rag_api_load``); a later run reuses the loaded rows.
* Server: gunicorn (the ``bench`` extra), ``--workers 2 --threads 8`` (gthread), serving
  benchmarks/api_site.py: the router mounted on a plain NinjaAPI, API-key auth on every
  request (a key looked up and hash-compared each time), no throttle, no answer cache,
  the scripted test LLM (so /ask measures retrieval, prompting, citations and the
  QueryLog write, not a model).
* Clients: ``--clients`` threads (50), each with its own keep-alive connection, sending
  requests back to back for ``--duration`` seconds (60) per endpoint and at most
  ``--max-requests`` (100,000) in all; queries are the 300 SciFact test queries in turn.
  Every non-200 answer or connection error counts as an error.
* Baseline: the same searches through the Python API (``django_rag.search()``, one
  thread, same process as the clients), which gives what HTTP, auth, JSON and concurrency
  add.

Results go to stdout and, unless ``--no-write``, into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import REPO, load_scifact, median, percentile, table  # noqa: E402

RESULTS = REPO / "benchmarks" / "RESULTS.md"
SECTION = "## REST API under load"
HOST, PORT = "127.0.0.1", 8765


def load_data(chunks: int) -> None:
    from benchmarks.latency import build_rows, load_chunks, vacuum_analyze
    from django_rag.embedders import embedders
    from django_rag.models import Chunk, Collection

    if Chunk.objects.count() == chunks:
        print(f"Reusing the {chunks} chunks already loaded.", file=sys.stderr)
        return
    from benchmarks.latency import reset_tables

    reset_tables()
    corpus, _queries, _qrels = load_scifact()
    embedder = embedders["default"]
    data = build_rows(chunks, corpus, embedder)
    collection = Collection.objects.create(name="SciFact", slug="scifact")
    load_chunks(data, 0, chunks, embedder.identity, collection)
    vacuum_analyze(["django_rag_chunk", "django_rag_posting", "django_rag_document"])


def api_key() -> str:
    from django.contrib.auth import get_user_model

    from django_rag.models import ApiKey

    user, _created = get_user_model().objects.get_or_create(username="api-load")
    return ApiKey.create_key(user, "api_load benchmark")[1]


class Client(threading.Thread):
    def __init__(self, number: int, requests: callable, stop_at: float, budget: threading.Semaphore, key: str):
        super().__init__(daemon=True)
        self.number, self.requests, self.stop_at, self.budget, self.key = number, requests, stop_at, budget, key
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection(HOST, PORT, timeout=30)
        i = self.number
        while time.perf_counter() < self.stop_at and self.budget.acquire(blocking=False):
            method, path, body = self.requests(i)
            i += 50
            started = time.perf_counter()
            try:
                headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    self.errors.append(f"HTTP {response.status}")
                    continue
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(type(exc).__name__)
                connection.close()
                connection = http.client.HTTPConnection(HOST, PORT, timeout=30)
                continue
            self.latencies.append((time.perf_counter() - started) * 1000)
        connection.close()


def hammer(name: str, requests: callable, *, clients: int, duration: float, max_requests: int, key: str) -> dict:
    budget = threading.Semaphore(max_requests)
    began = time.perf_counter()
    threads = [Client(n, requests, began + duration, budget, key) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 60)
    elapsed = time.perf_counter() - began
    latencies = [ms for t in threads for ms in t.latencies]
    errors = [e for t in threads for e in t.errors]
    result = {
        "endpoint": name, "requests": len(latencies) + len(errors), "ok": len(latencies), "errors": len(errors),
        "error_kinds": sorted(set(errors)), "seconds": elapsed, "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
    }
    print(f"  {name}: {result['rps']:.1f} req/s, p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, "
          f"{result['errors']} errors {result['error_kinds']}", file=sys.stderr)
    return result


def python_baseline(queries: list[str], seconds: float) -> dict:
    import django_rag

    latencies = []
    stop_at = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        django_rag.search(queries[i % len(queries)], k=5)
        latencies.append((time.perf_counter() - started) * 1000)
        i += 1
    return {"rps": len(latencies) / seconds, "p50": median(latencies), "p99": percentile(latencies, 99),
            "requests": len(latencies)}


def start_server(workers: int, threads: int) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"), "benchmarks.api_site:application_factory()",
        "--bind", f"{HOST}:{PORT}", "--workers", str(workers), "--threads", str(threads),
        "--worker-class", "gthread", "--keep-alive", "30", "--log-level", "warning", "--timeout", "120",
    ]
    server = subprocess.Popen(command, cwd=REPO, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, PORT, timeout=2)
            connection.request("GET", "/api/openapi.json")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("gunicorn did not answer within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)  # gunicorn's master: graceful stop of its workers
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per endpoint")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per endpoint")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args()

    from benchmarks import api_site

    api_site.configure()
    load_data(args.chunks)
    key = api_key()
    _corpus, queries, _qrels = load_scifact()
    questions = list(queries.values())

    def search(i: int):
        return "GET", "/api/rag/search?" + urllib.parse.urlencode({"q": questions[i % len(questions)], "k": 5}), None

    def ask(i: int):
        return "POST", "/api/rag/ask", json.dumps({"question": questions[i % len(questions)]})

    print("Baseline: django_rag.search() in process, 15 s", file=sys.stderr)
    baseline = python_baseline(questions, 15)
    from django.db import connections

    connections.close_all()
    server = start_server(args.workers, args.threads)
    try:
        hammer("warm-up", search, clients=4, duration=5, max_requests=1000, key=key)
        results = [
            hammer(name, make, clients=args.clients, duration=args.duration, max_requests=args.max_requests, key=key)
            for name, make in (("GET /search", search), ("POST /ask", ask))
        ]
    finally:
        stop_server(server)

    rows = [["django_rag.search() (Python, 1 thread)", baseline["requests"], 0, baseline["rps"], baseline["p50"],
             baseline["p99"], "1.00"]]
    for r in results:
        rows.append([r["endpoint"], r["requests"], r["errors"], r["rps"], r["p50"], r["p99"],
                     f"{r['rps'] / baseline['rps']:.2f}"])
    report = table(["what", "requests", "errors", "requests/s", "p50 (ms)", "p99 (ms)", "throughput vs Python"], rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    machine = (f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
               f"{datetime.date.today()}; load average at the end {load}")
    command = "Command: .venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv)
    setup = (f"{args.chunks:,} chunks, gunicorn {args.workers} workers x {args.threads} threads (gthread), "
             f"{args.clients} clients x {args.duration:.0f} s per endpoint, API-key auth on every request, "
             "scripted test LLM, no answer cache, no throttle")
    print(f"\n{setup}\n\n{report}\n\n{machine}\n{command}")
    if not args.no_write:
        text = RESULTS.read_text()
        block = f"{SECTION}\n\n{setup}.\n\n```\n{report}\n\n{machine}\n{command}\n```\n"
        if SECTION in text:
            head, _old = text.split(SECTION, 1)
            tail = _old.split("\n## ", 1)
            text = head + block + ("\n## " + tail[1] if len(tail) > 1 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + block
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
