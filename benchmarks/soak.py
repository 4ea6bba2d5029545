#!/usr/bin/env python
"""Soak: two ingestion workers and 20 API clients at once, for a bounded time; nothing lost.

    .venv/bin/python benchmarks/soak.py                      # 5 minutes, then writes benchmarks/RESULTS.md
    .venv/bin/python benchmarks/soak.py --duration 30 --no-write   # a quick look

Everything runs on 127.0.0.1, as separate processes, and stops by itself:

* Database: its own (``rag_soak``, dropped and made again each run) on the embedded
  server in ``.pgdata/bench``, or the one ``--database-url`` names (used as it is: the
  test suite passes its own test database).
* Site: gunicorn (``--workers 2 --threads 8``, gthread) serving the tests' Django project
  (tests/settings.py: the router at /api/rag/, API-key auth, the hashing embedder, the
  scripted test LLM; no throttle).
* Workers: two ``manage.py qcluster`` processes on django-q2's ORM broker.
* Producer: every ``--interval`` seconds a document is uploaded through ``POST
  /documents`` (up to ``--max-documents``); every fifth one is bad (a ``.pdf`` that is
  not a PDF, or a ``.txt`` of binary bytes) and must end ``failed``, the others ``ready``.
* Clients: ``--clients`` threads (20), each with its own keep-alive connection,
  alternating ``GET /search`` and ``POST /ask`` back to back until the time is up.

At the end the queue is drained (at most ``--drain`` seconds), then the rows are
checked: a document *lost* is one that is not in the state its content calls for
(``ready`` with chunks for a good one, ``failed`` for a bad one), or whose chunks are
not exactly one set. Server errors are HTTP 5xx and dropped connections; RSS is read
with psutil at the start (after a warm-up) and at the end, for each process.

``--json`` prints the figures as one JSON object (what tests/reliability/test_soak.py reads).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import percentile, table, write_results_section  # noqa: E402

SECTION = "## Soak: ingestion workers and API clients together"
HOST = "127.0.0.1"
SETUP = (
    "benchmarks/soak.py: gunicorn (2 workers x 8 threads) serving the REST API, two `qcluster` workers "
    "(django-q2, ORM broker) ingesting an upload every second (every fifth one bad: a fake PDF or binary "
    "bytes), 20 clients alternating `GET /search` and `POST /ask` (hashing embedder, scripted test LLM, "
    "API-key auth on every request, no throttle), then the queue drained and every uploaded document's "
    "rows checked. RSS is of each process with its children."
)
QUESTIONS = [
    "How many days of parental leave?", "Who approves expense claims?", "When are receipts kept?",
    "What is the travel policy?", "How do I book a meeting room?", "What is the notice period?",
]
TOPICS = ["parental leave", "expense claims", "travel receipts", "meeting rooms", "notice periods", "remote work"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def soak_database_url() -> str:
    """A fresh ``rag_soak`` database on the embedded benchmark server."""
    import psycopg

    from django_rag.local_postgres import parse_database_url, start_embedded

    uri = start_embedded(REPO / ".pgdata" / "bench")
    server = parse_database_url(uri)
    with psycopg.connect(dbname="postgres", user=server["USER"] or None, host=server["HOST"], autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "rag_soak" WITH (FORCE)')
        conn.execute('CREATE DATABASE "rag_soak"')
    return uri.replace("/postgres?", "/rag_soak?")


class Stack:
    """The processes under test, all in process groups of their own."""

    def __init__(self, database_url: str, logs: Path, workers: int) -> None:
        overrides = {
            "QUEUE": "django_q", "INGEST_ON_SAVE": False, "API_THROTTLE": None,
            "LLMS": {"default": {"BACKEND": "django_rag.llms.testing.LLM",
                                 "OPTIONS": {"responses": ["The documents say so [1]."]}}},  # used in turn, again and again
        }
        self.env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url,
            "DJANGO_RAG_TEST_OVERRIDES": json.dumps(overrides), "PYTHONPATH": str(REPO),
            "DJANGO_RAG_TEST_MEDIA_ROOT": str(logs / "media"),
        }
        self.logs, self.workers = logs, workers
        self.port = free_port()
        self.site: subprocess.Popen | None = None
        self.clusters: list[subprocess.Popen] = []

    def django(self, *args: str, code: str | None = None) -> str:
        command = [sys.executable, "-c", "import django; django.setup()\n" + code] if code else \
            [sys.executable, "-m", "django", *args]
        done = subprocess.run(command, env=self.env, cwd=REPO, capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise SystemExit(f"{' '.join(args) or 'setup'} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.site = subprocess.Popen(
            [gunicorn, "django.core.wsgi:get_wsgi_application()", "--bind", f"{HOST}:{self.port}", "--workers", "2",
             "--threads", "8", "--worker-class", "gthread", "--keep-alive", "30", "--timeout", "60",
             "--log-level", "warning"],
            env=self.env, cwd=REPO, stdout=(self.logs / "site.log").open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n in range(self.workers):
            self.clusters.append(subprocess.Popen(
                [sys.executable, "-m", "django", "qcluster"], env=self.env, cwd=REPO,
                stdout=(self.logs / f"worker-{n + 1}.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
            ))

    def processes(self) -> dict[str, int]:
        named = {"site (gunicorn)": self.site.pid}
        named.update({f"worker {n + 1} (qcluster)": p.pid for n, p in enumerate(self.clusters)})
        return named

    def stop(self) -> None:
        for cluster in self.clusters:  # SIGINT to the main pid: SIGTERM to the group can hang it
            if cluster.poll() is None:
                cluster.send_signal(signal.SIGINT)
        if self.site is not None and self.site.poll() is None:
            self.site.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
        for process in [*self.clusters, self.site]:
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # anything left of the group
            except ProcessLookupError:
                pass
            process.wait()


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn and qcluster fork workers)."""
    import psutil

    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def request(connection: http.client.HTTPConnection, method: str, path: str, key: str,
            body: bytes | None = None, content_type: str = "application/json") -> tuple[int, bytes]:
    connection.request(method, path, body=body, headers={"Authorization": f"Bearer {key}", "Content-Type": content_type})
    response = connection.getresponse()
    return response.status, response.read()


def multipart(fields: dict[str, str], file: tuple[str, bytes] | None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    if file is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file[0]}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode() + file[1] + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def good_document(n: int) -> str:
    topic = TOPICS[n % len(TOPICS)]
    paragraphs = [f"# {topic.title()} {n}"] + [
        f"Rule {i} about {topic}: document {n} says employees follow step {i} and keep records for {i} years."
        for i in range(1, 4 + n % 5)
    ]
    return "\n\n".join(paragraphs)


class Producer(threading.Thread):
    """Uploads a document every ``interval`` seconds until stopped; every fifth is bad."""

    def __init__(self, port: int, key: str, interval: float, limit: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.key, self.interval, self.limit, self.stop = port, key, interval, limit, stop
        self.expected: dict[int, str] = {}  # document id -> "ready" or "failed"
        self.errors: list[str] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        n = 0
        while not self.stop.is_set() and n < self.limit:
            n += 1
            bad = n % 5 == 0
            if bad and n % 10 == 0:
                file = ("scan.pdf", b"%PDF-1.7 this is not really a PDF " + os.urandom(64))
            elif bad:
                file = ("notes.txt", bytes(range(256)) * 8)  # binary content in a text file
            else:
                file = None
            fields = {"title": f"Soak document {n}"} if file else {"title": f"Soak document {n}", "text": good_document(n)}
            body, content_type = multipart(fields, file)
            try:
                status, data = request(connection, "POST", "/api/rag/documents", self.key, body, content_type)
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(type(exc).__name__)
                connection.close()
                connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
                continue
            if status == 202:
                self.expected[json.loads(data)["id"]] = "failed" if bad else "ready"
            elif status == 415 and bad:
                pass  # refused at the door: also fine, nothing to ingest
            else:
                self.errors.append(f"upload HTTP {status}")
            self.stop.wait(self.interval)
        connection.close()


class Client(threading.Thread):
    def __init__(self, number: int, port: int, key: str, stop_at: float) -> None:
        super().__init__(daemon=True)
        self.number, self.port, self.key, self.stop_at = number, port, key, stop_at
        self.latencies: dict[str, list[float]] = {"GET /search": [], "POST /ask": []}
        self.statuses: dict[str, int] = {}

    def run(self) -> None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        rng = random.Random(self.number)
        i = 0
        while time.perf_counter() < self.stop_at:
            i += 1
            question = rng.choice(QUESTIONS)
            if i % 2:
                name, method, path, body = "GET /search", "GET", "/api/rag/search?" + urllib.parse.urlencode(
                    {"q": question, "k": 5}), None
            else:
                name, method, path, body = "POST /ask", "POST", "/api/rag/ask", json.dumps({"question": question}).encode()
            started = time.perf_counter()
            try:
                status, _data = request(connection, method, path, self.key, body)
            except (OSError, http.client.HTTPException) as exc:
                self.statuses[type(exc).__name__] = self.statuses.get(type(exc).__name__, 0) + 1
                connection.close()
                connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
                continue
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if status == 200:
                self.latencies[name].append((time.perf_counter() - started) * 1000)
        connection.close()


SEED = """
from django.contrib.auth import get_user_model
import django_rag
from django_rag.models import ApiKey, Document
user = get_user_model().objects.create_superuser("soak-" + __import__("uuid").uuid4().hex[:8])
docs = [Document.objects.create(title=f"Seed {n}", text=text) for n, text in enumerate(%r)]
django_rag.ingest_many(docs)
print(ApiKey.create_key(user, "soak")[1])
"""

CHECK = """
import json
from django.db.models import Count
from django_rag.models import Chunk, Document
expected = {int(k): v for k, v in json.loads(%r).items()}
rows = {d.pk: d for d in Document.objects.filter(pk__in=expected)}
counts = dict(Chunk.objects.filter(document_id__in=expected).values_list("document_id").annotate(n=Count("id")))
duplicates = Chunk.objects.values("document_id", "index").annotate(n=Count("id")).filter(n__gt=1).count()
lost, states = [], {}
for pk, want in expected.items():
    doc = rows.get(pk)
    state = doc.status if doc else "missing"
    states[state] = states.get(state, 0) + 1
    chunks = counts.get(pk, 0)
    ok = doc is not None and state == want and chunks == doc.chunk_count and (want == "failed" or chunks > 0)
    if not ok:
        lost.append({"id": pk, "want": want, "status": state, "chunks": chunks, "error": doc.error[:200] if doc else ""})
print(json.dumps({"states": states, "lost": lost, "duplicate_chunks": duplicates,
                  "pending": sum(1 for d in rows.values() if d.status in ("pending", "processing"))}))
"""


def check_rows(stack: Stack, expected: dict[int, str]) -> dict:
    return json.loads(stack.django(code=CHECK % json.dumps(expected)).strip().splitlines()[-1])


def run(args: argparse.Namespace) -> dict:
    logs = Path(args.logs or (REPO / "benchmarks" / ".cache" / "soak"))
    logs.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or soak_database_url()
    stack = Stack(database_url, logs, args.workers)
    if not args.database_url:
        stack.django("migrate", "-v0")
    key = stack.django(code=SEED % [good_document(n) for n in range(20)]).strip().splitlines()[-1]
    stack.start()
    try:
        deadline = time.monotonic() + 60
        while True:  # warm-up: the site answers, each gunicorn worker has imported everything
            try:
                connection = http.client.HTTPConnection(HOST, stack.port, timeout=5)
                if all(request(connection, "GET", "/api/rag/search?q=leave", key)[0] == 200 for _ in range(4)):
                    break
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the site did not answer within 60 s; see " + str(logs / "site.log"))
            time.sleep(0.3)
        time.sleep(2)  # the clusters spawn their workers
        rss_start = {name: tree_rss_mb(pid) for name, pid in stack.processes().items()}

        stop = threading.Event()
        producer = Producer(stack.port, key, args.interval, args.max_documents, stop)
        began = time.perf_counter()
        clients = [Client(n, stack.port, key, began + args.duration) for n in range(args.clients)]
        producer.start()
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=args.duration + 60)
        elapsed = time.perf_counter() - began
        stop.set()
        producer.join(timeout=60)

        drain_until = time.monotonic() + args.drain
        rows = check_rows(stack, producer.expected)
        while rows["pending"] and time.monotonic() < drain_until:
            time.sleep(1)
            rows = check_rows(stack, producer.expected)
        rss_end = {name: tree_rss_mb(pid) for name, pid in stack.processes().items()}
        alive = {name: stack.site.poll() is None if "site" in name else None for name in rss_start}
        alive.update({f"worker {n + 1} (qcluster)": c.poll() is None for n, c in enumerate(stack.clusters)})
    finally:
        stack.stop()

    statuses: dict[str, int] = {}
    for client in clients:
        for status, count in client.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    endpoints = {}
    for name in ("GET /search", "POST /ask"):
        latencies = [ms for c in clients for ms in c.latencies[name]]
        endpoints[name] = {"ok": len(latencies), "rps": len(latencies) / elapsed,
                           "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}
    server_errors = sum(n for s, n in statuses.items() if not s.isdigit() or int(s) >= 500)
    return {
        "duration": elapsed, "clients": args.clients, "workers": args.workers, "statuses": statuses,
        "server_errors": server_errors, "other_errors": sum(n for s, n in statuses.items() if s.isdigit() and s != "200"
                                                            and int(s) < 500),
        "upload_errors": producer.errors, "endpoints": endpoints,
        "rss_start_mb": rss_start, "rss_end_mb": rss_end, "alive_at_end": alive,
        "documents": {"uploaded": len(producer.expected),
                      "bad": sum(1 for v in producer.expected.values() if v == "failed"), **rows},
        "load_average": os.getloadavg(),
    }


def report(figures: dict, args: argparse.Namespace) -> str:
    rows = [[name, e["ok"], e["rps"], e["p50"], e["p99"]] for name, e in figures["endpoints"].items()]
    requests = table(["endpoint", "answered 200", "requests/s", "p50 (ms)", "p99 (ms)"], rows)
    memory = table(
        ["process (with its children)", "RSS start (MB)", "RSS end (MB)", "growth"],
        [[name, figures["rss_start_mb"][name], figures["rss_end_mb"][name],
          f"{(figures['rss_end_mb'][name] / figures['rss_start_mb'][name] - 1) * 100:+.1f}%"]
         for name in figures["rss_start_mb"]],
    )
    docs = figures["documents"]
    summary = (
        f"{figures['duration']:.0f} s, {figures['clients']} clients, {figures['workers']} workers. "
        f"Server errors (5xx or dropped connections): {figures['server_errors']}; other non-200: "
        f"{figures['other_errors']}; upload errors: {len(figures['upload_errors'])}. Responses by status: "
        f"{json.dumps(figures['statuses'], sort_keys=True)}.\n"
        f"Documents uploaded during the run: {docs['uploaded']} ({docs['bad']} bad), final states "
        f"{json.dumps(docs['states'], sort_keys=True)}; lost: {len(docs['lost'])}; duplicate chunks: "
        f"{docs['duplicate_chunks']}; still pending after the drain: {docs['pending']}."
    )
    load = ", ".join(f"{x:.1f}" for x in figures["load_average"])
    machine = (f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other work, Python "
               f"{platform.python_version()}; {datetime.date.today()}; load average at the end {load}")
    command = "Command: .venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv)
    return f"{summary}\n\n{requests}\n\n{memory}\n\n{machine}\n{command}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="qcluster processes")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two uploads")
    parser.add_argument("--max-documents", type=int, default=1000)
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait for the queue at the end")
    parser.add_argument("--database-url", help="use this (migrated) database instead of a fresh rag_soak")
    parser.add_argument("--logs", help="directory for the processes' logs (default benchmarks/.cache/soak)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    parser.add_argument("--note", default="", help="a paragraph written above the figures (the machine's state)")
    args = parser.parse_args()
    figures = run(args)
    if args.json:
        print(json.dumps(figures))
        return
    text = report(figures, args)
    print(text)
    if not args.no_write:
        note = f"{args.note}\n\n" if args.note else ""
        write_results_section(SECTION, f"{SETUP}\n\n{note}```\n{text}\n```")


if __name__ == "__main__":
    main()
