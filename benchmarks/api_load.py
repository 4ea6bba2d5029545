#!/usr/bin/env python
"""The REST API under load: wrk with 50 connections on /search and /ask, three ways of keeping database connections.

    .venv/bin/python benchmarks/api_load.py                  # about 5 minutes, plus 10-15 to load the first time
    .venv/bin/python benchmarks/api_load.py --chunks 2000 --duration 5 --no-write   # a quick look
    .venv/bin/python benchmarks/api_load.py --profile        # py-spy: where a request's time goes

What runs, all on 127.0.0.1:

* Data: the SciFact abstracts copied and varied to 100,000 chunks with hashing vectors
  (384 dimensions), built and loaded exactly as benchmarks/latency.py does, in a database
  of its own (``rag_api_load``); a later run reuses the loaded rows.
* Server: gunicorn (the ``bench`` extra), ``--workers 2 --threads 8`` (gthread), serving
  benchmarks/api_site.py: the router mounted on a plain NinjaAPI, API-key auth on every
  request (a key looked up and hash-compared each time), no throttle, no answer cache,
  the scripted test LLM (so /ask measures retrieval, prompting, citations and the
  QueryLog write, not a model). Database connections, one configuration after another
  (``--connections``): ``per-request`` (Django's default, ``CONN_MAX_AGE = 0``),
  ``persistent`` (``CONN_MAX_AGE = 60``, in ``DATABASES``), ``pool`` (Django's psycopg
  pool, ``--threads`` connections per process).
* Clients: ``wrk`` (Debian's package; C and an event loop, so the load generator takes a
  few per cent of a core rather than the 50 Python threads it replaced) with
  ``--clients`` keep-alive connections (50) for ``--duration`` seconds (30) per endpoint;
  requests go through the 300 SciFact test queries in turn. Every non-2xx answer and
  every socket error or timeout counts as an error.
* Baseline: the same searches through the Python API (``django_rag.search()``, one
  thread, in this process, the server stopped) for ``--baseline`` seconds just before
  each configuration, so every ratio compares figures taken a minute apart.

``--profile`` instead serves the persistent configuration under py-spy (``bench``
extra; sampling the workers, which it must be allowed to ptrace) and prints, for
/search and /ask, the share of the busy samples in each part of a request.

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
import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import CACHE, REPO, load_scifact, median, percentile, table, write_results_section  # noqa: E402

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


WRK_SCRIPT = """
local requests, i = {}, 0
-- REQUESTS is prepended by api_load.py: a table of {method, path, body} built from the queries.
init = function(args)
  for n, r in ipairs(REQUESTS) do
    requests[n] = wrk.format(r[1], r[2], {["Authorization"] = "Bearer " .. KEY,
                                          ["Content-Type"] = "application/json"}, r[3])
  end
  i = math.random(#requests)
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\\n', summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def lua_string(text: str) -> str:
    return '"' + "".join(c if c.isalnum() or c in " /?=&%.-_:,{}[]" else f"\\{ord(c):03d}" for c in text) + '"'


def hammer(name: str, requests: list[tuple[str, str, str]], *, clients: int, duration: float, key: str,
           threads: int = 2) -> dict:
    """``wrk`` (C, event loop: a few % of a core) with ``clients`` keep-alive connections."""
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk not found: apt-get install wrk")
    table_lines = ",\n".join(f"{{{lua_string(m)}, {lua_string(p)}, {lua_string(b) if b else 'nil'}}}"
                              for m, p, b in requests)
    script = f"KEY = {lua_string(key)}\nREQUESTS = {{\n{table_lines}\n}}\n" + WRK_SCRIPT
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = [wrk, f"-t{min(threads, clients)}", f"-c{clients}", f"-d{duration:.0f}s", "--timeout", "30s",
                   "-s", handle.name, f"http://{HOST}:{PORT}/"]
        output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120).stdout
    finally:
        os.unlink(handle.name)
    line = next((x for x in output.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no summary:\n{output}")
    w = json.loads(line[4:])
    errors = w["connect"] + w["read"] + w["write"] + w["status"] + w["timeout"]
    seconds = w["duration_us"] / 1e6
    result = {
        "endpoint": name, "requests": w["requests"], "ok": w["requests"] - w["status"], "errors": errors,
        "error_kinds": [k for k in ("connect", "read", "write", "status", "timeout") if w[k]],
        "seconds": seconds, "rps": (w["requests"] - w["status"]) / seconds,
        "p50": w["p50_us"] / 1000, "p99": w["p99_us"] / 1000,
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


def start_server(workers: int, threads: int, connections: str) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"), "benchmarks.api_site:application_factory()",
        "--bind", f"{HOST}:{PORT}", "--workers", str(workers), "--threads", str(threads),
        "--worker-class", "gthread", "--keep-alive", "30", "--log-level", "warning", "--timeout", "120",
    ]
    env = {**os.environ, "BENCH_CONNECTIONS": connections, "BENCH_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    server = subprocess.Popen(command, cwd=REPO, start_new_session=True, env=env)
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


def profile(server: subprocess.Popen, name: str, requests: list, *, clients: int, duration: float, key: str) -> str:
    """py-spy on the gunicorn workers while wrk runs; returns the collapsed stacks' file."""
    out = CACHE / f"api_load-profile-{name.strip('/').split()[-1].strip('/')}.txt"
    CACHE.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.pid),
                            "--subprocesses", "--format", "raw", "--rate", "200", "--nonblocking",
                            "--duration", f"{duration:.0f}", "--output", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    hammer(name + " (profiled)", requests, clients=clients, duration=duration, key=key)
    spy.wait(timeout=60)
    return str(out)


#: Where a request's time goes: a sample counts for every part one of its frames matches
#: (inclusive), first match per part.
PROFILE_PARTS = [
    ("API key lookup and hash", ("django_rag/api/auth.py", "models.py:ApiKey", "check_key", "hash_key")),
    ("throttle", ("django_rag/api/throttling.py",)),
    ("ninja: parsing, validation, response", ("ninja/",)),
    ("pydantic", ("pydantic",)),
    ("access probes", ("django_rag/access.py",)),
    ("embedding the query", ("django_rag/embedders/",)),
    ("SQL: psycopg execute and fetch", ("psycopg/cursor.py", "psycopg/_cursor", "psycopg/connection.py")),
    ("connecting to PostgreSQL", ("psycopg/connection.py:connect", "get_new_connection", "psycopg_pool")),
    ("Django ORM: compile and model instances", ("django/db/models/",)),
    ("JSON encoding and decoding", ("json/", "orjson")),
    ("QueryLog write", ("log_query", "QueryLog", "_log")),
    ("Django request handling and middleware", ("django/core/handlers/", "django/middleware/", "django/contrib/")),
    ("gunicorn (HTTP parsing, sockets)", ("gunicorn/",)),
]


def summarize_profile(path: str) -> list[list]:
    """Share of busy samples per part from py-spy's raw (collapsed) output; idle threads excluded."""
    totals: dict[str, int] = {}
    busy = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        if "django/core/handlers" not in stack:
            continue  # a thread waiting for work (gunicorn's loop, the pool's workers)
        n = int(count)
        busy += n
        for part, needles in PROFILE_PARTS:
            if any(needle in stack for needle in needles):
                totals[part] = totals.get(part, 0) + n
    return [[part, f"{100 * totals.get(part, 0) / max(busy, 1):.1f}%"] for part, _n in PROFILE_PARTS], busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per endpoint and configuration")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of the in-process loop, per configuration")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--connections", default="per-request,persistent,pool",
                        help="configurations of benchmarks/api_site.py CONNECTIONS, in this order")
    parser.add_argument("--profile", action="store_true",
                        help="instead: py-spy on the workers (persistent connections), where the time goes")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args()

    from benchmarks import api_site

    os.environ.setdefault("BENCH_CONNECTIONS", "persistent")
    api_site.configure()
    load_data(args.chunks)
    key = api_key()
    _corpus, queries, _qrels = load_scifact()
    questions = list(queries.values())
    searches = [("GET", "/api/rag/search?" + urllib.parse.urlencode({"q": q, "k": 5}), "") for q in questions]
    asks = [("POST", "/api/rag/ask", json.dumps({"question": q})) for q in questions]
    from django.db import connections

    if args.profile:
        connections.close_all()
        server = start_server(args.workers, args.threads, "persistent")
        try:
            hammer("warm-up", searches, clients=4, duration=5, key=key)
            for name, requests in (("GET /search", searches), ("POST /ask", asks)):
                rows, busy = summarize_profile(profile(server, name, requests, clients=args.clients,
                                                       duration=args.duration, key=key))
                print(f"\n{name}: share of {busy} busy samples (inclusive; parts overlap)\n")
                print(table(["part", "share"], rows))
        finally:
            stop_server(server)
        return

    rows = []
    ratios = []
    for mode in args.connections.split(","):
        print(f"[{mode}] baseline: django_rag.search() in process, {args.baseline:.0f} s", file=sys.stderr)
        baseline = python_baseline(questions, args.baseline)
        connections.close_all()
        server = start_server(args.workers, args.threads, mode)
        try:
            hammer("warm-up", searches, clients=4, duration=5, key=key)
            results = [hammer(f"{name} ({mode})", requests, clients=args.clients, duration=args.duration, key=key)
                       for name, requests in (("GET /search", searches), ("POST /ask", asks))]
        finally:
            stop_server(server)
        rows.append([f"django_rag.search() (Python, 1 thread), before {mode}", baseline["requests"], 0,
                     baseline["rps"], baseline["p50"], baseline["p99"], "1.00"])
        for r in results:
            ratio = r["rps"] / baseline["rps"]
            rows.append([r["endpoint"], r["requests"], r["errors"], r["rps"], r["p50"], r["p99"], f"{ratio:.2f}"])
            ratios.append(ratio)

    report = table(["what", "requests", "errors", "requests/s", "p50 (ms)", "p99 (ms)", "vs Python just before"],
                   rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    machine = (f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
               f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; load average at the end {load}")
    command = "Command: .venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv)
    setup = (f"{args.chunks:,} chunks, gunicorn {args.workers} workers x {args.threads} threads (gthread), "
             f"wrk with {args.clients} keep-alive connections x {args.duration:.0f} s per endpoint, API-key auth "
             "on every request, scripted test LLM, no answer cache, no throttle; database connections "
             "per request (Django's default), persistent (CONN_MAX_AGE 60) and Django's psycopg pool "
             f"({args.threads} per process)")
    print(f"\n{setup}\n\n{report}\n\n{machine}\n{command}")
    if not args.no_write:
        write_results_section(SECTION, f"{setup}.\n\n```\n{report}\n\n{machine}\n{command}\n```")


if __name__ == "__main__":
    main()
