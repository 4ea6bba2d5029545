#!/usr/bin/env python
"""Changing the embedding model at 100,000 chunks: search speed before, during and after.

    .venv/bin/python benchmarks/reembed.py                 # about 15 minutes on 2 busy cores
    .venv/bin/python benchmarks/reembed.py --before ../main   # "before" = another checkout's django_rag

What is measured, in a database of its own (``rag_reembed``) on the benchmark server:

* **Hybrid p50/p95 before and after the schema change** (migration 0012 and the embedder
  state): ``list(Chunk.objects.hybrid(q, vector=v, candidates=40)[:10])`` over the
  SciFact test queries, timed in a child process that imports django_rag either from
  ``--before`` (a checkout without this change; default: none, row left out) or from
  this checkout, on the same database, alternately (``--rounds`` times each, so noise
  from the machine hits both).
* **Re-embedding throughput**: ``rag_reembed --to large`` (the hashing embedder with other
  options, 384 dimensions) in a child process, in chunks per second, split into the
  embedding alone (``embed_documents`` on the same texts) and the raw ``COPY`` of the same
  number of ``(chunk, embedder, vector)`` rows into an unindexed table of the side table's
  shape, which is the floor of any writer.
* **Hybrid p50/p95 during the re-embedding** against idle, in this process, while the
  child re-embeds (its HNSW index build included).
* **Hybrid p50/p95 with the re-embedded embedder active** (its vectors in the side table).
* **A switch and a rollback under 10 search clients**: 10 threads search without pause
  while ``large`` is activated, then ``default`` again; every failed or empty search counts.

Data: the rows of benchmarks/latency.py (SciFact abstracts copied to 100,000 chunks,
hashing vectors, cached in benchmarks/.cache), loaded with the chunk writer's COPY.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import REPO, load_scifact, median, percentile, setup_django, table, write_results_section  # noqa: E402

DATABASE = "rag_reembed"
SECTION = "## Changing the embedding model"
DIMENSIONS = 384
DEFAULT = {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": DIMENSIONS}}
LARGE = {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": DIMENSIONS, "ngram_weight": 0.3}}
RAG = {
    "EMBEDDERS": {"default": DEFAULT, "large": LARGE}, "CACHE": None, "QUERY_LOG": False,
    "EMBEDDER_STATE_TTL": 1.0, "AUTO_CREATE_VECTOR_INDEXES": True,
}


def queries(limit: int) -> list[str]:
    _corpus, texts, _qrels = load_scifact()
    return list(texts.values())[:limit]


def search_times(texts: list[str], vectors: list[list[float]] | None, k: int = 10) -> list[float]:
    from django_rag.models import Chunk

    times = []
    for i, text in enumerate(texts):
        options = {"vector": vectors[i]} if vectors else {}
        began = time.perf_counter()
        list(Chunk.objects.hybrid(text, candidates=40, **options)[:k])
        times.append((time.perf_counter() - began) * 1000)
    return times


def child_search(args: argparse.Namespace) -> None:
    """``--child-search``: time hybrid searches with the django_rag of ``BENCH_DJANGO_RAG_PATH``; print JSON."""
    if os.environ.get("BENCH_DJANGO_RAG_PATH"):
        sys.path.insert(0, os.environ["BENCH_DJANGO_RAG_PATH"])
    setup_django(DATABASE, rag={**RAG, "EMBEDDERS": {"default": DEFAULT}}, migrate=False)
    import django_rag
    from django_rag.embedders import embedders

    texts = queries(args.queries)
    embedder = embedders["default"]
    vectors = [embedder.embed_query(t) for t in texts]
    search_times(texts[:20], vectors[:20])  # warm-up
    print(json.dumps({"module": django_rag.__file__, "ms": search_times(texts, vectors)}))


def child_reembed(args: argparse.Namespace) -> None:
    setup_django(DATABASE, rag=RAG, migrate=False)
    from django_rag import reembed

    began = time.perf_counter()
    result = reembed.reembed("large", batch_size=args.batch_size)
    total = time.perf_counter() - began
    print(json.dumps({
        "embedded": result.embedded, "embed_write_seconds": result.seconds, "total_seconds": total,
        "index": result.index, "missing": result.missing,
    }))


def load(total: int) -> None:
    from benchmarks.latency import build_rows, load_chunks, reset_tables, vacuum_analyze
    from django_rag.embedders import embedders
    from django_rag.models import Collection

    corpus, _texts, _qrels = load_scifact()
    embedder = embedders["default"]
    data = build_rows(total, corpus, embedder)
    reset_tables()
    collection = Collection.objects.create(name="SciFact", slug="scifact")
    load_chunks(data, 0, total, embedder.identity, collection)
    from django_rag.vector_indexes import ensure_all_indexes

    ensure_all_indexes()
    vacuum_analyze(["django_rag_chunk", "django_rag_posting", "django_rag_term", "django_rag_document"])


def summary(times: list[float]) -> list[float]:
    return [median(times), percentile(times, 95)]


def run_child(kind: str, args: argparse.Namespace, pythonpath: Path) -> subprocess.Popen:
    env = {**os.environ, "BENCH_DJANGO_RAG_PATH": str(pythonpath)}
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), f"--child-{kind}", "--queries", str(args.queries),
         "--batch-size", str(args.batch_size)],
        env=env, stdout=subprocess.PIPE, cwd=REPO, text=True,
    )


def child_json(process: subprocess.Popen) -> dict[str, Any]:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"child failed ({process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def copy_rate(count: int) -> float:
    """Seconds to COPY ``count`` side-table rows (chunk, embedder, vector) into an unindexed table."""
    from django.db import connection

    from django_rag.embedders import embedders
    from django_rag.retrieval import vector_literal

    embedder = embedders["large"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, context, content FROM django_rag_chunk ORDER BY id LIMIT %s", [count])
        rows = cursor.fetchall()
    vectors = embedder.embed_documents([f"{c}\n\n{t}" if c else t for _i, c, t in rows])
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_copy (chunk_id bigint, embedder varchar(255), embedding vector,"
            " error text DEFAULT '', attempts int DEFAULT 0, updated_at timestamptz DEFAULT now())"
        )
        began = time.perf_counter()
        with cursor.cursor.copy("COPY bench_copy (chunk_id, embedder, embedding) FROM STDIN") as copy:
            for (chunk_id, _c, _t), vector in zip(rows, vectors):
                copy.write_row((chunk_id, embedder.identity, vector_literal(vector)))
        seconds = time.perf_counter() - began
        cursor.execute("DROP TABLE bench_copy")
    return seconds


def embed_seconds(count: int) -> float:
    from django.db import connection

    from django_rag.embedders import embedders

    with connection.cursor() as cursor:
        cursor.execute("SELECT context, content FROM django_rag_chunk ORDER BY id LIMIT %s", [count])
        texts = [f"{c}\n\n{t}" if c else t for c, t in cursor.fetchall()]
    embedder = embedders["large"]
    began = time.perf_counter()
    for start in range(0, len(texts), 256):
        embedder.embed_documents(texts[start : start + 256])
    return time.perf_counter() - began


def under_clients(texts: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads search while ``large`` is activated, then ``default`` (rollback)."""
    from django.db import connections

    from django_rag import reembed
    from django_rag.models import Chunk

    stop = threading.Event()
    failures: list[str] = []
    counts = [0] * clients
    times: list[float] = []

    def client(n: int) -> None:
        i = n
        try:
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    hits = list(Chunk.objects.hybrid(texts[i % len(texts)], candidates=40)[:10])
                    if not hits:
                        failures.append(f"client {n}: no result")
                except Exception as exc:  # noqa: BLE001 - counted, the point of the measurement
                    failures.append(f"client {n}: {type(exc).__name__}: {exc}")
                times.append((time.perf_counter() - began) * 1000)
                counts[n] += 1
                i += clients
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    switch = {}
    time.sleep(seconds / 3)
    began = time.perf_counter()
    reembed.activate("large")
    switch["activate_ms"] = (time.perf_counter() - began) * 1000
    time.sleep(seconds / 3)
    began = time.perf_counter()
    reembed.activate("default")
    switch["rollback_ms"] = (time.perf_counter() - began) * 1000
    time.sleep(seconds / 3)
    stop.set()
    for thread in threads:
        thread.join()
    return {"searches": sum(counts), "failures": failures, "p50": median(times), "p95": percentile(times, 95), **switch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--before", help="a checkout whose django_rag is 'before' (e.g. ../main)")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded chunks of an earlier run")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--idle-only", action="store_true", help="only the before/after comparison (with --reuse)")
    parser.add_argument("--child-search", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-reembed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_search:
        return child_search(args)
    if args.child_reembed:
        return child_reembed(args)

    setup_django(DATABASE, rag=RAG)
    from django.db import connection

    from django_rag import reembed
    from django_rag.embedders import embedders
    from django_rag.models import Chunk, EmbedderState

    if not (args.reuse and Chunk.objects.count() == args.chunks):
        load(args.chunks)
    if EmbedderState.objects.filter(alias="large").exists():
        EmbedderState.objects.filter(alias="large").update(active=False)
        reembed.drop("large", wait=0)
    EmbedderState.objects.all().delete()
    reembed.clear_cache()
    total = Chunk.objects.count()
    texts = queries(args.queries)

    # 1. Before and after the schema change, the chunks' own embedder active.
    checkouts = {"after": REPO}
    if args.before:
        checkouts = {"before": Path(args.before).resolve(), **checkouts}
    idle: dict[str, list[float]] = {name: [] for name in checkouts}
    modules = {}
    for _round in range(args.rounds):
        for name, path in checkouts.items():
            answer = child_json(run_child("search", args, path))
            idle[name] += answer["ms"]
            modules[name] = answer["module"]
    print("idle:", {n: summary(t) for n, t in idle.items()}, modules, file=sys.stderr)
    if args.idle_only:
        return

    # 2. Searches here while a child re-embeds (index build included).
    during: list[float] = []
    child = run_child("reembed", args, REPO)
    vectors = [embedders["default"].embed_query(t) for t in texts]
    while child.poll() is None:
        during += search_times(texts[:50], vectors[:50])
    result = child_json(child)
    here_idle = []
    for _round in range(args.rounds):
        here_idle += search_times(texts, vectors)
    print("during:", summary(during), "idle here:", summary(here_idle), result, file=sys.stderr)

    # 3. The floors: embedding alone, raw COPY alone (on the same number of chunks).
    sample = min(total, 20_000)
    embed_s = embed_seconds(sample) * total / sample
    copy_s = copy_rate(sample) * total / sample

    # 4. The re-embedded embedder active: its vectors in the side table.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {reembed.SIDE_TABLE}")
    reembed.activate("large")
    large_vectors = [embedders["large"].embed_query(t) for t in texts]
    side_idle = []
    for _round in range(args.rounds):
        side_idle += search_times(texts, large_vectors)
    reembed.activate("default")

    # 5. A switch and a rollback under 10 clients.
    clients = under_clients(texts, 10, 9.0)
    print("clients:", {k: v for k, v in clients.items() if k != "failures"}, clients["failures"][:5], file=sys.stderr)

    rows = []
    if "before" in idle:
        rows.append(["before the change (" + str(Path(modules["before"]).parent.parent.name) + ")", *summary(idle["before"]), 1.0])
    base = median(idle["before"]) if "before" in idle else median(idle["after"])
    rows.append(["after the change, default active (column)", *summary(idle["after"]), median(idle["after"]) / base])
    rows.append(["after, the re-embedded embedder active (side table)", *summary(side_idle), median(side_idle) / base])
    rows.append(["idle (this process)", *summary(here_idle), median(here_idle) / base])
    rows.append(["during rag_reembed --to large (this process)", *summary(during), median(during) / base])
    rows.append(["10 clients, across a switch and a rollback (each)", clients["p50"], clients["p95"], clients["p50"] / base])

    rate = result["embedded"] / result["total_seconds"]
    throughput = [
        ["rag_reembed --to large (embed, write, progress)", result["embedded"], result["embed_write_seconds"],
         result["embedded"] / result["embed_write_seconds"]],
        ["... with the HNSW index build", result["embedded"], result["total_seconds"], rate],
        ["embedding alone (hashing, 384 d)", total, embed_s, total / embed_s],
        ["raw COPY of the same rows, no index", total, copy_s, total / copy_s],
    ]
    body = "\n".join([
        f"`benchmarks/reembed.py`, {total:,} chunks (SciFact copies, hashing embedder 384 d), "
        f"`Chunk.objects.hybrid(q, vector=v, candidates=40)[:10]` over {len(texts)} queries x {args.rounds} rounds; "
        f"{os.cpu_count()} cores shared with other work. See docs/embedding-models.md.",
        "",
        table(["hybrid search", "p50 ms", "p95 ms", "p50 / before"], rows),
        "",
        table(["re-embedding", "chunks", "seconds", "chunks/s"], throughput),
        "",
        f"Across the switch and the rollback: {clients['searches']:,} searches by 10 clients, "
        f"{len(clients['failures'])} failed or empty; activation took {clients['activate_ms']:.1f} ms and the "
        f"rollback {clients['rollback_ms']:.1f} ms (one transaction; no vector moves).",
    ])
    print(body)
    if not args.no_write:
        write_results_section(SECTION, body)


if __name__ == "__main__":
    main()
