#!/usr/bin/env python
"""What a new PostgreSQL connection costs django-rag: connect, set-up, first plans.

    .venv/bin/python benchmarks/connection_cost.py              # about 1 minute, over the api_load data
    .venv/bin/python benchmarks/connection_cost.py --rounds 20  # a quicker look

Over the database of benchmarks/api_load.py (``rag_api_load``; run that once first, or
pass ``--chunks`` to load a smaller corpus the same way), interleaved rounds, each with
a query of its own (the SciFact test queries in turn), medians:

* ``psycopg.connect()``: the server's fork and authentication, and psycopg's start-up,
  with nothing of Django; closed again at once.
* Django connect: ``ensure_connection()`` on a closed Django connection, with its
  ``connection_created`` receivers (Django's own set-up and django-rag's ``SET``).
* ``SET hnsw.iterative_scan``: the one statement django-rag adds, timed alone.
* first vs later search on a connection: ``django_rag.search()`` (hybrid, k=5) as the
  first statement on a new connection, then the next query on the same connection: the
  difference is the first plan of the BM25 function and the catalogue look-ups a fresh
  backend makes. The same for the keyword and semantic legs alone.
* a search on a new connection vs on a kept one: what ``CONN_MAX_AGE = 0`` costs a
  request, all told.

Prints a table; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_scifact, median, percentile, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--chunks", type=int, default=100_000, help="the corpus api_load.py loads (reused if there)")
    args = parser.parse_args()

    import os

    os.environ.setdefault("BENCH_CONNECTIONS", "per-request")
    from benchmarks import api_load, api_site

    api_site.configure()
    api_load.load_data(args.chunks)

    import psycopg
    from django.db import connection

    import django_rag

    _corpus, queries, _qrels = load_scifact()
    questions = list(queries.values())
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)

    timings: dict[str, list[float]] = {}

    def timed(name: str, fn) -> None:
        started = time.perf_counter()
        fn()
        timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    def raw_connect() -> None:
        psycopg.connect(**params).close()

    def search(q: str, mode: str = "hybrid"):
        return lambda: django_rag.search(q, k=5, mode=mode)

    def set_iterative_scan() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET hnsw.iterative_scan = relaxed_order")

    # Warm the server's buffers and this process's code paths first.
    for q in questions[:20]:
        django_rag.search(q, k=5)
    connection.close()

    for i in range(args.rounds):
        q1, q2 = questions[(2 * i) % len(questions)], questions[(2 * i + 1) % len(questions)]
        timed("psycopg.connect() + close", raw_connect)
        connection.close()
        timed("Django connect (ensure_connection, receivers)", connection.ensure_connection)
        timed("  SET hnsw.iterative_scan alone (part of the above)", set_iterative_scan)
        timed("hybrid search, first on the connection", search(q1))
        timed("hybrid search, next on the same connection", search(q2))
        for mode in ("keyword", "semantic"):
            connection.close()
            connection.ensure_connection()
            timed(f"{mode} search, first on the connection", search(q1, mode))
            timed(f"{mode} search, next on the same connection", search(q2, mode))
        connection.close()

        def new_connection_search(q=q1) -> None:
            connection.close()
            django_rag.search(q, k=5)

        timed("request on a new connection: connect + hybrid search", new_connection_search)
        timed("request on a kept connection: hybrid search", search(q2))
    connection.close()

    rows = [[name, median(ms), percentile(ms, 90)] for name, ms in timings.items()]
    first, later = median(timings["hybrid search, first on the connection"]), median(
        timings["hybrid search, next on the same connection"])
    fresh, kept = median(timings["request on a new connection: connect + hybrid search"]), median(
        timings["request on a kept connection: hybrid search"])
    print(f"\n{args.rounds} rounds, {args.chunks:,} chunks\n")
    print(table(["what", "median (ms)", "p90 (ms)"], rows))
    print(f"\nFirst search on a connection costs {first - later:.2f} ms more than the next; a request on a new "
          f"connection costs {fresh - kept:.2f} ms more ({fresh / kept:.2f}x) than on a kept one.")


if __name__ == "__main__":
    main()
