"""Shared set-up for the benchmark scripts: a configured Django on real PostgreSQL.

Each benchmark uses a database of its own (created if missing) on the embedded server in
``.pgdata/bench``, or on the server in ``DATABASE_URL``; the benchmarks drop and refill
their own tables, so they never touch a site's or the tests' data.
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
SCIFACT = REPO.parent / "shared" / "datasets" / "scifact"
sys.path.insert(0, str(REPO))


def setup_django(database: str, *, rag: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
                 installed: list[str] | None = None) -> None:
    import django
    from django.conf import settings

    from django_rag.local_postgres import database_settings

    server = database_settings(REPO / ".pgdata" / "bench")
    _create_database(server, database)
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", *(installed or []), "django_rag"],
        DATABASES={"default": {**server, "NAME": database}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        MEDIA_ROOT=str(CACHE / "media"),
        DJANGO_RAG=rag or {},
        LOGGING_CONFIG=None,
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        **(extra or {}),
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database(server: dict[str, Any], name: str) -> None:
    import psycopg

    conninfo = {k: v for k, v in {
        "dbname": server["NAME"], "user": server["USER"], "password": server["PASSWORD"],
        "host": server["HOST"], "port": server["PORT"],
    }.items() if v}
    with psycopg.connect(**conninfo, autocommit=True) as conn:
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
