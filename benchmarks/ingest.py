#!/usr/bin/env python
"""Ingestion throughput: django-rag's pipeline against a raw psycopg ``COPY`` of the same rows.

    .venv/bin/python benchmarks/ingest.py [--chunks 50000] [--repeat 3] [--workers 2]

Prints the wall-clock throughput of each method and its ratio to the raw COPY (medians
of the rounds), and the same comparison in CPU time (client + server backend), which
neighbours on a shared machine disturb much less.

What is measured, in one run, on fresh (truncated) tables that carry everything the
migrations put there (the GIN index on the generated ``search_vector``, the embedder's
partial HNSW index, the triggers that keep the BM25 postings):

* ``raw COPY``: the rows (document id, position, content, metadata, the vector as text,
  embedder identity, language, context) computed beforehand, written with one psycopg
  ``COPY ... FROM STDIN`` in one transaction. This is what a hand-written bulk loader
  does and the ceiling for this table: PostgreSQL still computes every tsvector, inserts
  every row into the GIN and HNSW indexes and runs the BM25 trigger.
* ``raw COPY per document``: the same rows, one COPY and one commit per document: the
  granularity the pipeline works at (each document's chunks are swapped atomically), with
  nothing else.
* ``django_rag.ingest()``: one call per document, as a worker would make them, starting
  from Documents whose ``text`` is set (Markdown). It includes the real pipeline:
  advisory lock, status updates, extraction (negligible for Markdown text), splitting,
  embedding with the hashing embedder (384 dimensions, the package defaults) and the
  atomic swap of the document's chunks (one transaction per document).
* ``django_rag.ingest_many()``: one call for all the documents, as ``rag_ingest`` and
  ``rag_reindex`` make it: the same pipeline per document, but the chunks of up to
  ``INGEST_BATCH_SIZE`` documents (32) are swapped in one transaction (one lock query,
  one status update, one DELETE, one COPY, one UPDATE of the documents).
* ``split+embed+write``: the pipeline's own functions (``split_sections``,
  ``embed_in_batches``, ``replace_chunks``) on sections extracted beforehand, one
  transaction per document: the same work without the bookkeeping around it.
* ``write only``: ``replace_chunks()`` alone, per document, given the chunks and vectors
  computed beforehand: the pipeline's write path (row lock, delete, binary COPY, commit)
  against ``raw COPY per document``.
* ``django_rag.ingest(), N workers`` (``--workers N``, off by default): ``ingest()`` in N
  processes that pull document ids from one queue, as N task-queue workers would.

They run in alternation (``--repeat`` rounds, rotating the order), each on fresh tables
after a CHECKPOINT, and the medians are compared, so that a neighbour process stealing
CPU for a while hurts all of them alike. The embedder's per-process word cache is
cleared before every pipeline run, so each run starts cold. After every run the table is
checksummed (every column but the ids, the vector as pgvector prints it): all methods
must store identical rows, or the script exits with status 1.

The corpus is the SciFact abstracts (../shared/datasets/scifact/corpus.jsonl): 4 to 8
abstracts, each under its own ``##`` heading with its sentences grouped into paragraphs
at random, make one Markdown document of about 14 chunks (1,000 characters, overlap
150: the package defaults). The corpus is cycled with a new shuffle and paragraphing on
each pass until there are enough chunks. About a fifth of the chunk texts recur across
passes (the tail of a long abstract), but every chunk is embedded and indexed with its
document's title and section (``CHUNK_CONTEXT``), so no two rows are the same.

The database is a database of its own (``django_rag_bench``, dropped at the end) on the
embedded PostgreSQL in ``.pgdata/bench``, or on the server of ``$DATABASE_URL``.
Nothing is cached; nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import json
import os
import platform
import random
import re
import shlex
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_CORPUS = REPO.parent / "shared" / "datasets" / "scifact" / "corpus.jsonl"
BENCH_DB = "django_rag_bench"


# --- setup ----------------------------------------------------------------------------


def conninfo(db: dict) -> dict:
    info = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    info.update(db.get("OPTIONS", {}))
    return {k: v for k, v in info.items() if v is not None}


def setup_django(db_name: str) -> tuple[dict, dict]:
    """Configure Django in code on a fresh database; return psycopg kwargs for it and for the server."""
    import psycopg
    from django.conf import settings

    from django_rag.local_postgres import database_settings

    server = database_settings(REPO / ".pgdata" / "bench")
    with psycopg.connect(**conninfo(server), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
        admin.execute(f'CREATE DATABASE "{db_name}"')
    db = dict(server, NAME=db_name)
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-rag-benchmark",
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.postgres",
            "django_rag",
        ],
        DATABASES={"default": db},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        # No DJANGO_RAG: the package defaults (hashing embedder, 384 dimensions,
        # chunks of 1000 characters with an overlap of 150).
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)  # creates the GIN index, and the HNSW index after migrate
    return conninfo(db), conninfo(server)


def drop_database(server_info: dict, db_name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(**server_info, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}"')


# --- corpus ---------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def load_abstracts(path: Path) -> list[tuple[str, list[str]]]:
    abstracts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = " ".join(record["text"].split())
            if text:
                abstracts.append((record["title"].strip().rstrip("."), _SENTENCE.split(text)))
    return abstracts


def make_documents(abstracts, target_chunks: int, seed: int):
    """Yield ``(title, markdown)``: 4 to 8 abstracts a document, cycled with new shuffles."""
    rng = random.Random(seed)
    number = 0
    while True:
        order = list(range(len(abstracts)))
        rng.shuffle(order)
        position = 0
        while position < len(order):
            size = rng.randint(4, 8)
            group = [abstracts[i] for i in order[position : position + size]]
            position += size
            number += 1
            title = f"Review {number}: {group[0][0]}"
            parts = [f"# {title}"]
            for abstract_title, sentences in group:
                parts.append(f"## {abstract_title}")
                start = 0
                while start < len(sentences):
                    step = rng.randint(2, 5)
                    parts.append(" ".join(sentences[start : start + step]))
                    start += step
            yield title, "\n\n".join(parts)


def build_corpus(path: Path, target_chunks: int, seed: int):
    """Documents and, for the raw baseline, their rows computed with the real splitter and embedder."""
    from django_rag.embedders import get_embedder
    from django_rag.embedders.hashing import Embedder
    from django_rag.ingestion.extractors import extract_text
    from django_rag.ingestion.splitting import split_sections

    configured = get_embedder()
    # A separate instance, so that its word cache does not warm the pipeline's.
    embedder = Embedder(alias="bench-precompute", dimensions=configured.dimensions)
    assert embedder.identity == configured.identity, (embedder.identity, configured.identity)
    # (title, text, sections, rows), rows = [{column: value}] with the vector as text
    documents = []
    total = 0
    for title, text in make_documents(load_abstracts(path), target_chunks, seed):
        sections = extract_text(text).sections
        drafts = pipeline_drafts(sections, split_sections)
        contexts, texts = chunk_inputs(title, drafts)
        vectors = embedder.validate(embedder.embed_documents(texts), len(drafts))
        rows = [
            {
                "index": index,
                "content": draft.content,
                "metadata": json.dumps(draft.metadata),
                "embedding": vector_text(vector),
                "embedder": embedder.identity,
                "language": "english",
                "context": context,
            }
            for index, (draft, vector, context) in enumerate(zip(drafts, vectors, contexts))
        ]
        documents.append((title, text, sections, rows))
        total += len(rows)
        if total >= target_chunks:
            break
    return documents, configured.identity


def pipeline_drafts(sections, split_sections) -> list:
    """The chunks ingest() makes of a Markdown document's sections: split, then given the
    metadata the pipeline adds (its format and file), in versions that add it."""
    drafts = split_sections(sections)
    try:
        from django_rag.ingestion.pipeline import chunk_metadata
    except ImportError:  # a version whose chunks carry only their section's metadata
        return drafts
    for draft in drafts:
        draft.metadata = chunk_metadata(draft.metadata, format="markdown", name="")
    return drafts


def chunk_inputs(title: str, drafts) -> tuple[list[str], list[str]]:
    """The context stored with each chunk and the text embedded for it, as ingest() makes them."""
    try:
        from django_rag.ingestion.pipeline import chunk_context
    except ImportError:  # a version without contextual chunk headers
        contexts = [""] * len(drafts)
    else:
        contexts = [chunk_context(title, draft.metadata) for draft in drafts]
    texts = [f"{context}\n\n{d.content}" if context else d.content for context, d in zip(contexts, drafts)]
    return contexts, texts


def baseline_rows(pk: int, doc_rows) -> list[tuple]:
    from django_rag.ingestion.writer import CHUNK_COLUMNS

    return [tuple(pk if column == "document_id" else row[column] for column in CHUNK_COLUMNS) for row in doc_rows]


def vector_text(vector) -> str:
    # pgvector's own text form (what pgvector.Vector.to_text and str(list) give).
    return "[" + ",".join(map(repr, vector)) + "]"


# --- one measured run -----------------------------------------------------------------


def reset_tables(info: dict, documents) -> list[int]:
    """Empty the tables (indexes included), create the Documents, CHECKPOINT; return their ids."""
    import psycopg

    from django.db import connections

    from django_rag.models import Document

    connections.close_all()
    with psycopg.connect(**info, autocommit=True) as conn:
        conn.execute("TRUNCATE django_rag_chunk, django_rag_document RESTART IDENTITY CASCADE")
    objs = Document.objects.bulk_create(
        [Document(title=title, text=text, metadata={"format": "markdown"}) for title, text, _, _ in documents],
        batch_size=500,
    )
    connections.close_all()
    with psycopg.connect(**info, autocommit=True) as conn:
        try:
            conn.execute("VACUUM ANALYZE django_rag_document")
            conn.execute("CHECKPOINT")
        except psycopg.Error:
            pass  # not a superuser on a DATABASE_URL server: run without
    gc.collect()
    return [obj.pk for obj in objs]


class Meter:
    """Wall time, this process's CPU time and the CPU time of the server backends serving it.

    On a busy machine wall time stretches with every neighbour; CPU time much less. With
    one connection and no overlap between client and server, client CPU + server CPU is
    the work a run costs, a second view that neighbours hardly move. The server's CPU
    time comes from /proc/<backend pid>/stat, so only for a server on this machine.
    """

    def __init__(self, backend_pids=()) -> None:
        self.pids = list(backend_pids)

    def __enter__(self) -> "Meter":
        self._server = backend_cpu(self.pids)
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
        after = backend_cpu(self.pids)
        self.server = None if after is None or self._server is None else after - self._server


def backend_cpu(pids) -> float | None:
    """User + system CPU seconds of these server processes, or None where /proc cannot tell."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total if pids else None


def django_backend_pid() -> int:
    from django.db import connection

    connection.ensure_connection()
    return connection.connection.info.backend_pid


def run_raw_copy(info, documents, ids, identity):
    import psycopg

    from django_rag.ingestion.writer import CHUNK_COLUMNS

    rows = [row for pk, (_, _, _, doc_rows) in zip(ids, documents) for row in baseline_rows(pk, doc_rows)]
    sql = f"COPY django_rag_chunk ({', '.join(CHUNK_COLUMNS)}) FROM STDIN"
    with psycopg.connect(**info) as conn:
        conn.execute("SELECT 1")
        conn.commit()
        with Meter([conn.info.backend_pid]) as meter:
            with conn.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
    return meter, len(rows), {}


def run_raw_copy_per_document(info, documents, ids, identity):
    """The same raw COPY, one COPY and one transaction per document (the pipeline's granularity)."""
    import psycopg

    from django_rag.ingestion.writer import CHUNK_COLUMNS

    batches = [baseline_rows(pk, doc_rows) for pk, (_, _, _, doc_rows) in zip(ids, documents)]
    sql = f"COPY django_rag_chunk ({', '.join(CHUNK_COLUMNS)}) FROM STDIN"
    count = 0
    with psycopg.connect(**info) as conn:
        conn.execute("SELECT 1")
        conn.commit()
        with Meter([conn.info.backend_pid]) as meter:
            for rows in batches:
                with conn.cursor() as cursor, cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
                conn.commit()
                count += len(rows)
    return meter, count, {}


def _cold_embedder():
    from django_rag.embedders import get_embedder

    embedder = get_embedder()
    cache = getattr(embedder, "_features", None)
    if hasattr(cache, "cache_clear"):
        cache.cache_clear()
    return embedder


def _add_timings(stages: dict[str, float], timings: dict[str, float]) -> None:
    for name, seconds in timings.items():
        stages[name] = stages.get(name, 0.0) + seconds


def run_ingest(info, documents, ids, identity):
    import django_rag

    _cold_embedder()
    stages: dict[str, float] = {}
    chunks = 0
    with Meter([django_backend_pid()]) as meter:
        for pk in ids:
            result = django_rag.ingest(pk, raise_errors=True)
            if result.status != "ingested":
                raise RuntimeError(f"document {pk}: {result.status} {result.error}")
            chunks += result.chunks
            _add_timings(stages, result.timings)
    return meter, chunks, stages


def run_ingest_many(info, documents, ids, identity):
    import django_rag

    _cold_embedder()
    stages: dict[str, float] = {}
    chunks = 0
    with Meter([django_backend_pid()]) as meter:
        for result in django_rag.ingest_many(ids):
            if result.status != "ingested":
                raise RuntimeError(f"document {result.document_id}: {result.status} {result.error}")
            chunks += result.chunks
            # A document's "total" runs from its start to its batch's commit, so the
            # totals overlap; the stages do not.
            _add_timings(stages, {k: v for k, v in result.timings.items() if k != "total"})
    return meter, chunks, stages


def _ingest_worker(queue, results) -> None:
    import django_rag
    from django.db import connections

    chunks, stages, server = 0, {}, None
    try:
        pid = django_backend_pid()
        before = backend_cpu([pid])
        while (pk := queue.get()) is not None:
            result = django_rag.ingest(pk, raise_errors=True)
            if result.status != "ingested":
                raise RuntimeError(f"document {pk}: {result.status} {result.error}")
            chunks += result.chunks
            _add_timings(stages, result.timings)
        after = backend_cpu([pid])
        server = None if before is None or after is None else after - before
    finally:
        connections.close_all()
        results.put((chunks, stages, server))


def run_ingest_workers(info, documents, ids, identity, workers: int = 2):
    """django_rag.ingest() in several processes pulling documents from one queue, as task workers would."""
    import multiprocessing

    from django.db import connections

    _cold_embedder()
    connections.close_all()  # forked children must open their own connections
    context = multiprocessing.get_context("fork")
    queue, results = context.Queue(), context.Queue()
    for pk in ids:
        queue.put(pk)
    for _ in range(workers):
        queue.put(None)
    before = os.times()
    with Meter() as meter:
        processes = [context.Process(target=_ingest_worker, args=(queue, results)) for _ in range(workers)]
        for process in processes:
            process.start()
        outcomes = [results.get() for _ in processes]
        for process in processes:
            process.join()
            if process.exitcode:
                raise RuntimeError(f"an ingestion worker failed (exit code {process.exitcode})")
    after = os.times()
    meter.cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    servers = [server for _, _, server in outcomes]
    meter.server = None if None in servers else sum(servers)
    stages: dict[str, float] = {}
    for _, worker_stages, _ in outcomes:
        _add_timings(stages, worker_stages)
    return meter, sum(chunks for chunks, _, _ in outcomes), stages


def run_functions(info, documents, ids, identity):
    from django_rag.ingestion.pipeline import embed_in_batches, replace_chunks
    from django_rag.ingestion.splitting import split_sections
    from django_rag.models import Document

    embedder = _cold_embedder()
    docs = Document.objects.in_bulk(ids)
    work = [(docs[pk], sections) for pk, (_, _, sections, _) in zip(ids, documents)]
    stages = {"split": 0.0, "embed": 0.0, "write": 0.0}
    chunks = 0
    clock = time.perf_counter
    with Meter([django_backend_pid()]) as meter:
        for doc, sections in work:
            t0 = clock()
            drafts = pipeline_drafts(sections, split_sections)
            t1 = clock()
            contexts, texts = chunk_inputs(doc.title, drafts)
            vectors = embed_in_batches(embedder, texts)
            t2 = clock()
            replace_chunks(doc, drafts, vectors, embedder=embedder, language="english", **context_kwargs(contexts))
            t3 = clock()
            stages["split"] += t1 - t0
            stages["embed"] += t2 - t1
            stages["write"] += t3 - t2
            chunks += len(drafts)
    return meter, chunks, stages


def run_write_only(info, documents, ids, identity):
    """replace_chunks() alone, with the chunks and vectors computed beforehand: the write path."""
    from django_rag.embedders import get_embedder
    from django_rag.ingestion.pipeline import replace_chunks
    from django_rag.ingestion.splitting import ChunkDraft
    from django_rag.models import Document

    embedder = get_embedder()
    docs = Document.objects.in_bulk(ids)
    work = []
    for pk, (_, _, _, doc_rows) in zip(ids, documents):
        drafts = [ChunkDraft(row["content"], json.loads(row["metadata"])) for row in doc_rows]
        vectors = [[float(x) for x in row["embedding"][1:-1].split(",")] for row in doc_rows]
        work.append((docs[pk], drafts, vectors, [row["context"] for row in doc_rows]))
    chunks = 0
    with Meter([django_backend_pid()]) as meter:
        for doc, drafts, vectors, contexts in work:
            replace_chunks(doc, drafts, vectors, embedder=embedder, language="english", **context_kwargs(contexts))
            chunks += len(drafts)
    return meter, chunks, {}


def context_kwargs(contexts: list[str]) -> dict:
    import inspect

    from django_rag.ingestion.pipeline import replace_chunks

    return {"contexts": contexts} if "contexts" in inspect.signature(replace_chunks).parameters else {}


def table_checksum(info) -> tuple:
    """Row count and hashes of every chunk column but the ids (the vector as pgvector's text)."""
    import psycopg

    with psycopg.connect(**info) as conn:
        return conn.execute(
            "SELECT count(*),"
            " sum(hashtext(d.title || '|' || (to_jsonb(c) - 'id' - 'document_id' - 'embedding')::text)::numeric),"
            " sum(hashtext(c.embedding::text)::numeric)"
            " FROM django_rag_chunk c JOIN django_rag_document d ON d.id = c.document_id"
        ).fetchone()


def chunk_indexes(info) -> list[str]:
    import psycopg

    with psycopg.connect(**info) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'django_rag_chunk' ORDER BY indexname"
            )
        ]


METHODS = {
    "raw COPY": run_raw_copy,
    "raw COPY per document": run_raw_copy_per_document,
    "write only": run_write_only,
    "split+embed+write": run_functions,
    "django_rag.ingest()": run_ingest,
    "django_rag.ingest_many()": run_ingest_many,
}
WORKERS_METHOD = "django_rag.ingest(), {n} workers"


# --- main -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=50_000, help="at least this many chunks (default 50000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of all the methods, in rotating order (default 3)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a BEIR corpus.jsonl")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="also run django_rag.ingest() in this many worker processes (default: do not)",
    )
    parser.add_argument(
        "--profile", metavar="METHOD", help="instead of the comparison, run METHOD once under cProfile and print its top functions"
    )
    parser.add_argument("--keep-db", action="store_true", help=f"keep the {BENCH_DB} database afterwards")
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {list(METHODS)}")
    if args.workers > 1:
        name = WORKERS_METHOD.format(n=args.workers)
        METHODS[name] = functools.partial(run_ingest_workers, workers=args.workers)
        methods.append(name)

    print(f"Setting up database {BENCH_DB} ...", flush=True)
    info, server_info = setup_django(BENCH_DB)
    try:
        return benchmark(args, methods, info)
    finally:
        if not args.keep_db:
            drop_database(server_info, BENCH_DB)


def fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def ratio(reference, value) -> str:
    return "-" if reference is None or value is None else f"{reference / value:.2f}"


def profile(name: str, info, documents, identity) -> int:
    import cProfile
    import pstats

    warm = documents[:20]
    METHODS[name](info, warm, reset_tables(info, warm), identity)
    ids = reset_tables(info, documents)
    profiler = cProfile.Profile()
    profiler.enable()
    meter, chunks, stages = METHODS[name](info, documents, ids, identity)
    profiler.disable()
    print(
        f"{name}: {chunks:,} chunks in {meter.wall:.2f} s ({chunks / meter.wall:,.0f} chunks/s under the profiler), "
        f"stages {stages}"
    )
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)
    return 0


def benchmark(args, methods, info) -> int:
    from django_rag.conf import get_settings

    settings = get_settings()
    t = time.perf_counter()
    documents, identity = build_corpus(args.corpus, args.chunks, args.seed)
    total = sum(len(rows) for *_, rows in documents)
    distinct = len({row["content"] for *_, rows in documents for row in rows})
    print(
        f"Corpus: {len(documents):,} Markdown documents, {total:,} chunks ({distinct:,} distinct), "
        f"{sum(len(text) for _, text, _, _ in documents) / 1e6:.1f} M characters; "
        f"{statistics.mean(len(rows) for *_, rows in documents):.1f} chunks a document "
        f"(prepared in {time.perf_counter() - t:.0f} s, not measured)",
        flush=True,
    )
    print(
        f"Embedder {identity}; CHUNK_SIZE {settings['CHUNK_SIZE']}, CHUNK_OVERLAP {settings['CHUNK_OVERLAP']}, "
        f"EMBED_BATCH_SIZE {settings['EMBED_BATCH_SIZE']}"
    )
    print("Indexes on django_rag_chunk:")
    for definition in chunk_indexes(info):
        print("   ", definition)

    if args.profile:
        return profile(args.profile, info, documents, identity)

    # Warm-up on a few documents (imports, plan caches), not measured.
    warm = documents[:20]
    for name in methods:
        METHODS[name](info, warm, reset_tables(info, warm), identity)

    results: dict[str, list] = {name: [] for name in methods}  # [(Meter, stages)]
    checksums: dict[str, set] = {name: set() for name in methods}
    for round_number in range(args.repeat):
        order = methods[round_number % len(methods) :] + methods[: round_number % len(methods)]
        for name in order:
            ids = reset_tables(info, documents)
            meter, chunks, stages = METHODS[name](info, documents, ids, identity)
            if chunks != total:
                raise RuntimeError(f"{name} wrote {chunks} chunks, expected {total}")
            checksums[name].add(table_checksum(info))
            results[name].append((meter, stages))
            print(
                f"  round {round_number + 1}/{args.repeat}  {name:<24} {meter.wall:8.2f} s  "
                f"{chunks / meter.wall:6.0f} chunks/s  (CPU: client {meter.cpu:.1f} s, server {fmt(meter.server)} s)",
                flush=True,
            )

    all_sums = set().union(*checksums.values())
    identical = len(all_sums) == 1
    print()
    print(f"Rows identical across methods and runs: {'yes' if identical else 'NO'} {sorted(all_sums)[:3]}")
    print()

    def median_of(name, attribute):
        values = [getattr(meter, attribute) for meter, _ in results[name]]
        return None if None in values else statistics.median(values)

    walls = {name: median_of(name, "wall") for name in methods}
    baseline, per_document = walls.get("raw COPY"), walls.get("raw COPY per document")
    print("Wall time (median of the rounds):")
    print()
    print("| method | rows | runs (s) | median (s) | chunks/s | ratio to raw COPY | ratio to raw COPY per document |")
    print("|---|--:|---|--:|--:|--:|--:|")
    for name in methods:
        runs = ", ".join(f"{meter.wall:.1f}" for meter, _ in results[name])
        print(
            f"| {name} | {total:,} | {runs} | {walls[name]:.1f} | {total / walls[name]:,.0f} "
            f"| {ratio(baseline, walls[name])} | {ratio(per_document, walls[name])} |"
        )
    print()
    print("CPU time (median of the rounds; server: the backends' user + system time):")
    print()
    print("| method | client CPU (s) | server CPU (s) | total CPU (s) | chunks per CPU-second | ratio to raw COPY |")
    print("|---|--:|--:|--:|--:|--:|")
    totals = {}
    for name in methods:
        client, server = median_of(name, "cpu"), median_of(name, "server")
        sums = [meter.cpu + meter.server for meter, _ in results[name] if meter.server is not None]
        totals[name] = statistics.median(sums) if len(sums) == len(results[name]) else None
        per_cpu = f"{total / totals[name]:,.0f}" if totals[name] else "-"
        print(
            f"| {name} | {client:.1f} | {fmt(server)} | {fmt(totals[name])} | {per_cpu} "
            f"| {ratio(totals.get('raw COPY'), totals[name])} |"
        )
    print()
    for name in methods:
        stages = results[name][0][1]
        if stages:
            medians = {k: statistics.median(st.get(k, 0.0) for _, st in results[name]) for k in stages}
            print(
                f"{name} stages (median s, summed over documents): "
                + ", ".join(f"{k} {v:.2f}" for k, v in medians.items())
            )
    print()
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {datetime.date.today().isoformat()}; "
        f"load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print("Command: " + " ".join([".venv/bin/python", "benchmarks/ingest.py", *map(shlex.quote, sys.argv[1:])]))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
