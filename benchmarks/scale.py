#!/usr/bin/env python
"""How search cost grows with the corpus: 10,000 to 1,000,000 chunks of 384 dimensions.

    .venv/bin/python benchmarks/scale.py                        # all sizes (hours on 2 cores)
    .venv/bin/python benchmarks/scale.py --sizes 10000,100000   # some sizes
    .venv/bin/python benchmarks/scale.py --resume               # skip sizes done, continue a load cut short

Each size lives in a database of its own (``rag_scale_<size>``) on the embedded server in
``.pgdata/bench`` (or ``$DATABASE_URL``), and is measured in a child process of its own,
so that one size's caches and memory do not leak into the next one's figures. A size's
numbers are kept in ``benchmarks/.cache/scale/<size>.json`` as soon as it finishes, and
the section "## Scale" of benchmarks/RESULTS.md is rewritten from every size measured so
far (``--commit`` also commits RESULTS.md after each size). ``--resume`` skips the sizes
already measured and continues a load where it stopped: each batch of documents and
chunks is written in one transaction, so the chunk count says where to go on.

Data. Text: the SciFact abstracts (title and text, one chunk per document), copied until
there are enough; every copy after the first drops one sentence at random and ends with
"[copy N]", as benchmarks/latency.py does, so the BM25 postings grow as a real corpus's
would (each copy adds postings to the same terms). Vectors: not the hashing embedder's
(whose vectors are word counts folded into 384 buckets, nearly orthogonal to each other
and unlike a neural model's), but generated to cluster the way sentence embeddings do:
a low-dimensional latent structure (``LATENT`` dimensions) spread over 384 by a fixed
random map, plus a little isotropic noise and a shared mean direction (real embeddings
are anisotropic: unrelated texts sit at cosine 0.1-0.3, not 0). ``TOPICS`` topic centres;
each SciFact abstract sits near its topic's centre, and each copy near its abstract. A
query vector is a new draw near the abstract the SciFact query is judged relevant to,
as a paraphrase would be. ``--describe`` prints the cosine similarities this gives
(related, unrelated, copy, query-to-relevant), to compare with a real model's.

Loading: ``Document.objects.bulk_create`` and ``django_rag.ingestion.writer.copy_rows``
(the package's bulk path: binary COPY, the BM25 triggers filling the postings, the GIN
index on ``search_vector`` kept as rows arrive), 5,000 chunks a transaction, without the
HNSW index, which is then built once by ``django_rag.vector_indexes.ensure_index`` (the
same ``CREATE INDEX`` that ``rag_sync_indexes`` runs) with ``maintenance_work_mem`` large
enough to build the graph in memory (``--maintenance-work-mem``). Then ``VACUUM ANALYZE``.

Measured at each size, after warm-up queries (and ``pg_prewarm`` of the HNSW index and
the postings when the extension is available, as a server that serves searches has them
in memory):

* load time and rows/s, HNSW build time, sizes of the chunk table (with TOAST), the HNSW
  and GIN indexes, the BM25 postings (table and index);
* ``list(Chunk.objects.hybrid(q, vector=v, weights={"semantic": 1, "keyword": 1})[:10])``
  p50 and p95, and ``semantic()`` / ``keyword()`` p50, interleaved as in latency.py, at the
  package defaults (100 candidates per leg, ``hnsw.ef_search`` 40, iterative scans on);
* recall@10 of ``semantic()`` against an exact search (numpy, float32, over the very
  vectors loaded), unfiltered and filtered to a collection holding 10% of the chunks,
  at ``hnsw.ef_search`` 40 (the default), 100 and 200;
* memory: the server's processes' proportional set size (PSS, shared buffers counted
  once) after the searches, and the client's peak RSS;
* ``EXPLAIN (ANALYZE, BUFFERS)`` of a hybrid search and of each leg, kept in the JSON and
  shown for the largest size.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    CACHE, REPO, RESULTS, load_scifact, median, percentile, table, write_results_section,
)
from benchmarks.latency import DIMENSIONS, EMBEDDER, _SENTENCE, run_rounds, timed  # noqa: E402

SECTION = "## Scale"
SIZES = (10_000, 100_000, 300_000, 1_000_000)
STATE = CACHE / "scale"
BATCH = 5000  # chunks per transaction, and the block of the vector generator
LATENT, TOPICS, SEED = 48, 400, 20261207
WEIGHTS = {"semantic": 1.0, "keyword": 1.0}
EF_SEARCH = (40, 100, 200)
SMALL_COLLECTION_EVERY = 10  # chunk i belongs to the small collection when i % 10 == 0


# --- data -----------------------------------------------------------------------------


class VectorSpace:
    """Deterministic clustered vectors: chunk ``i``'s vector is the same in every run."""

    def __init__(self, abstracts: int) -> None:
        import numpy as np

        rng = np.random.default_rng(SEED)
        self.np = np
        self.abstracts = abstracts
        # A fixed map from the latent space to 384 dimensions; rows of unit length.
        self.mix = rng.standard_normal((LATENT, DIMENSIONS)).astype(np.float32) / np.sqrt(DIMENSIONS)
        self.mean = rng.standard_normal(DIMENSIONS).astype(np.float32)
        self.mean /= np.linalg.norm(self.mean)
        centres = rng.standard_normal((TOPICS, LATENT)).astype(np.float32)
        self.topic = rng.integers(TOPICS, size=abstracts)
        self.abstract = centres[self.topic] + 0.9 * rng.standard_normal((abstracts, LATENT)).astype(np.float32)

    def _finish(self, latent: Any, rng: Any) -> Any:
        np = self.np
        vectors = latent @ self.mix
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors += 0.45 * self.mean + 0.012 * rng.standard_normal(vectors.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.astype(np.float32)

    def block(self, start: int) -> Any:
        """The vectors of chunks ``start .. start + BATCH`` (``start`` a multiple of BATCH)."""
        np = self.np
        assert start % BATCH == 0
        rng = np.random.default_rng([SEED, start])
        abstract = np.arange(start, start + BATCH) % self.abstracts
        latent = self.abstract[abstract] + 0.35 * rng.standard_normal((BATCH, LATENT)).astype(np.float32)
        return self._finish(latent, rng)

    def queries(self, abstracts: list[int]) -> Any:
        np = self.np
        rng = np.random.default_rng([SEED, 2**40])
        latent = self.abstract[abstracts] + 1.0 * rng.standard_normal((len(abstracts), LATENT)).astype(np.float32)
        return self._finish(latent, rng)


def chunk_text(i: int, corpus: list[dict[str, str]]) -> tuple[str, str, int]:
    """Chunk ``i``'s text, SciFact id and copy number (copies vary as in latency.py)."""
    copy, doc = divmod(i, len(corpus))
    source = corpus[doc]
    body = source["text"]
    if copy:
        sentences = _SENTENCE.split(body)
        if len(sentences) > 1:
            del sentences[random.Random(f"{copy}/{source['_id']}").randrange(len(sentences))]
        body = " ".join(sentences) + f" [copy {copy}]"
    return f"{source['title']}\n\n{body}", source["_id"], copy


def describe(space: VectorSpace) -> dict[str, float]:
    """Mean cosine similarities of the generated vectors (compare with a real model's)."""
    np = space.np
    rng = np.random.default_rng(1)
    abstracts = rng.integers(space.abstracts, size=4000)
    one = space._finish(space.abstract[abstracts] + 0.35 * rng.standard_normal((4000, LATENT)).astype(np.float32), rng)
    two = space._finish(space.abstract[abstracts] + 0.35 * rng.standard_normal((4000, LATENT)).astype(np.float32), rng)
    sims = one @ one.T
    a, b = rng.integers(4000, size=(2, 200_000))
    keep = abstracts[a] != abstracts[b]
    a, b = a[keep], b[keep]
    topic = space.topic[abstracts]
    queries = space.queries(list(abstracts[:200]))
    return {
        "unrelated (different topics)": float(sims[a, b][topic[a] != topic[b]].mean()),
        "same topic, other abstract": float(sims[a, b][topic[a] == topic[b]].mean()),
        "two copies of one abstract": float(np.einsum("ij,ij->i", one, two).mean()),
        "query and its abstract's chunk": float(np.einsum("ij,ij->i", queries, one[:200]).mean()),
    }


# --- one size ---------------------------------------------------------------------------


def database_name(size: int) -> str:
    return f"rag_scale_{size}"


def relation_bytes(cursor: Any, sql: str) -> int:
    cursor.execute(sql)
    return int(cursor.fetchone()[0] or 0)


def server_pss(cursor: Any) -> int:
    """Proportional set size of the server's processes (postmaster and its children), bytes."""
    cursor.execute("SELECT pg_postmaster_start_time(), setting FROM pg_settings WHERE name = 'data_directory'")
    data_directory = cursor.fetchone()[1]
    try:
        postmaster = int(Path(data_directory, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError):
        return 0  # a server on another machine
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if int(proc.name) != postmaster and ppid != postmaster:
                continue
            for line in (proc / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def load(size: int, corpus: list[dict[str, str]], space: VectorSpace, collections: list[Any],
         state: dict[str, Any], state_path: Path) -> None:
    """Load chunks from the count already there up to ``size``, one transaction a batch."""
    from django.db import transaction

    from django_rag.ingestion.writer import copy_rows
    from django_rag.models import Chunk, Document

    identity = EMBEDDER_IDENTITY[0]
    done = Chunk.objects.count()
    if done % BATCH:
        raise RuntimeError(f"{done} chunks: not a whole number of batches; drop {database_name(size)} and start again")
    began = time.perf_counter()
    base = state.get("load_seconds", 0.0)
    for lo in range(done, size, BATCH):
        vectors = space.block(lo)
        rows = [chunk_text(i, corpus) for i in range(lo, lo + BATCH)]
        with transaction.atomic():
            documents = Document.objects.bulk_create([
                Document(collection=collections[1 if i % SMALL_COLLECTION_EVERY == 0 else 0],
                         title=f"{beir} copy {copy}", metadata={"beir_id": beir, "copy": copy},
                         status="ready", chunk_count=1)
                for i, (_, beir, copy) in zip(range(lo, lo + BATCH), rows)
            ])
            copy_rows(
                (document.pk, 0, text, {"beir_id": beir, "copy": copy}, vectors[n].tolist(), identity, "english")
                for n, (document, (text, beir, copy)) in enumerate(zip(documents, rows))
            )
        state["load_seconds"] = base + time.perf_counter() - began
        state["loaded"] = lo + BATCH
        state_path.write_text(json.dumps(state, indent=1))
        if (lo + BATCH) % 50_000 == 0 or lo + BATCH == size:
            rate = (lo + BATCH - done) / (time.perf_counter() - began)
            print(f"  {size}: loaded {lo + BATCH:,} chunks ({state['load_seconds']:.0f}s, {rate:.0f}/s)",
                  file=sys.stderr, flush=True)


EMBEDDER_IDENTITY: list[str] = []


def exact_top(space: VectorSpace, queries: Any, size: int, mask_every: int | None, k: int = 10) -> list[list[int]]:
    """Exact top-``k`` chunk numbers (0-based, load order) by cosine, optionally among i % mask_every == 0."""
    np = space.np
    best_sim = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), k), dtype=np.int64)
    for lo in range(0, size, BATCH):
        block = space.block(lo)
        ids = np.arange(lo, lo + BATCH)
        if mask_every:
            keep = ids % mask_every == 0
            block, ids = block[keep], ids[keep]
        sims = queries @ block.T
        sims = np.concatenate([best_sim, sims], axis=1)
        all_ids = np.concatenate([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))], axis=1)
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best_sim = np.take_along_axis(sims, top, axis=1)
        best_ids = np.take_along_axis(all_ids, top, axis=1)
    order = np.argsort(-best_sim, axis=1)
    return np.take_along_axis(best_ids, order, axis=1).tolist()


def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.common import setup_django

    setup_django(database_name(size), rag={"EMBEDDERS": {"default": EMBEDDER}, "AUTO_CREATE_VECTOR_INDEXES": False})
    from django.db import connection

    from django_rag.embedders import get_embedder
    from django_rag.models import Chunk, Collection
    from django_rag.vector_indexes import ensure_index, index_exists, index_name

    embedder = get_embedder()
    EMBEDDER_IDENTITY.append(embedder.identity)
    corpus, queries, qrels = load_scifact()
    space = VectorSpace(len(corpus))
    state_path = STATE / f"{size}.load.json"
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() and args.resume else {}
    hnsw = index_name(embedder)

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER DATABASE \"{database_name(size)}\" SET maintenance_work_mem = '{args.maintenance_work_mem}'")
        if not args.resume or not state:
            cursor.execute("TRUNCATE django_rag_chunk, django_rag_document, django_rag_collection RESTART IDENTITY CASCADE")
            cursor.execute(f"DROP INDEX IF EXISTS {hnsw}")
            state = {}
    collections = [
        Collection.objects.get_or_create(slug="main", defaults={"name": "Main (90% of the chunks)"})[0],
        Collection.objects.get_or_create(slug="tenth", defaults={"name": "Tenth (10% of the chunks)"})[0],
    ]
    if Chunk.objects.count() < size:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {hnsw}")  # a load goes on without it
        state.pop("hnsw_seconds", None)
        load(size, corpus, space, collections, state, state_path)
    loaded = Chunk.objects.count()
    if loaded != size:
        raise RuntimeError(f"{database_name(size)} holds {loaded} chunks, not {size}: run without --resume")
    if "hnsw_seconds" not in state or not index_exists(embedder):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {hnsw}")
            cursor.execute("SHOW max_parallel_maintenance_workers")
            state["parallel_maintenance_workers"] = cursor.fetchone()[0]
        notices: list[str] = []
        connection.connection.add_notice_handler(lambda d: notices.append(d.message_primary))
        print(f"  {size}: building the HNSW index", file=sys.stderr, flush=True)
        began = time.perf_counter()
        ensure_index(embedder)
        state["hnsw_seconds"] = time.perf_counter() - began
        state["hnsw_notices"] = notices
        state_path.write_text(json.dumps(state, indent=1))
        print(f"  {size}: HNSW built in {state['hnsw_seconds']:.0f}s {notices}", file=sys.stderr, flush=True)
        with connection.cursor() as cursor:
            for name in ("django_rag_chunk", "django_rag_posting", "django_rag_term", "django_rag_document"):
                cursor.execute(f'VACUUM ANALYZE "{name}"')

    with connection.cursor() as cursor:
        sizes = {
            "table": relation_bytes(cursor, "SELECT pg_table_size('django_rag_chunk')"),
            "hnsw": relation_bytes(cursor, f"SELECT pg_relation_size('{hnsw}')"),
            "gin": relation_bytes(cursor, "SELECT pg_relation_size('django_rag_chunk_fts')"),
            "postings": relation_bytes(cursor, "SELECT pg_total_relation_size('django_rag_posting')"),
            "terms": relation_bytes(cursor, "SELECT pg_total_relation_size('django_rag_term')"),
            "database": relation_bytes(cursor, "SELECT pg_database_size(current_database())"),
        }
        cursor.execute("SELECT count(*) FROM django_rag_posting")
        postings = cursor.fetchone()[0]
        prewarmed = []
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            # The HNSW graph into shared buffers (every semantic search walks it); the
            # postings' search index and the terms into the OS cache only ("read"): at a
            # million chunks they outgrow shared_buffers and would evict the graph.
            for name, mode in ((hnsw, "buffer"), ("django_rag_posting_impact", "read"), ("django_rag_term", "read")):
                cursor.execute("SELECT pg_prewarm(%s, %s)", [name, mode])
                prewarmed.append(f"{name} ({mode})")
        except Exception as error:  # noqa: BLE001 - not every server has the extension
            print(f"  pg_prewarm unavailable: {error}", file=sys.stderr)
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("SHOW hnsw.ef_search")
        default_ef = cursor.fetchone()[0]
        cursor.execute("SELECT version(), (SELECT extversion FROM pg_extension WHERE extname = 'vector')")
        server_version, pgvector_version = cursor.fetchone()

    # Queries: SciFact test claims, each with a vector near an abstract judged relevant.
    position = {doc["_id"]: n for n, doc in enumerate(corpus)}
    qids = [q for q in queries if any(d in position for d in qrels[q])]
    measured = qids[: args.queries]
    warmup = qids[args.queries : args.queries + args.warmup] or measured[: args.warmup]
    all_q = measured + warmup
    qtext = [queries[q] for q in all_q]
    qvec_np = space.queries([position[next(d for d in qrels[q] if d in position)] for q in all_q])
    qvec = [v.tolist() for v in qvec_np]
    measured_i = list(range(len(measured)))
    warmup_i = list(range(len(measured), len(all_q)))
    small = collections[1]

    def method(mode: str, filtered: bool = False) -> Callable[[int], tuple[float, list[int]]]:
        def run(i: int) -> tuple[float, list[int]]:
            manager = Chunk.objects.filter(document__collection=small) if filtered else Chunk.objects
            if mode == "keyword":
                return timed(lambda: list(manager.keyword(qtext[i])[:10]), lambda c: c.pk)
            if mode == "hybrid":
                return timed(lambda: list(manager.hybrid(qtext[i], vector=qvec[i], weights=WEIGHTS)[:10]),
                             lambda c: c.pk)
            return timed(lambda: list(manager.semantic(vector=qvec[i])[:10]), lambda c: c.pk)
        return run

    methods = {"hybrid": method("hybrid"), "semantic": method("semantic"), "keyword": method("keyword"),
               "hybrid, filtered to 10%": method("hybrid", filtered=True)}
    run_rounds(methods, warmup_i, 1)
    load_before = os.getloadavg()[0]
    times, _ = run_rounds(methods, measured_i, args.rounds)
    load_after = os.getloadavg()[0]

    # Recall@10 of the HNSW search against the exact ranking, by ef_search.
    first_pk = Chunk.objects.order_by("pk").values_list("pk", flat=True).first()
    # Chunks were loaded in order with ids 1..size after RESTART IDENTITY; check it.
    if not Chunk.objects.filter(pk=first_pk + size - 1).exists():
        raise RuntimeError("chunk ids are not consecutive; the exact search cannot map them")
    exact = exact_top(space, qvec_np[: len(measured)], size, None)
    exact_filtered = exact_top(space, qvec_np[: len(measured)], size, SMALL_COLLECTION_EVERY)
    recall: dict[str, dict[str, float]] = {}
    semantic_ms: dict[str, float] = {}
    for ef in EF_SEARCH:
        with connection.cursor() as cursor:
            cursor.execute(f"SET hnsw.ef_search = {int(ef)}")
        got, got_f, ms = [], [], []
        for i in measured_i:
            t, ids = method("semantic")(i)
            ms.append(t)
            got.append([pk - first_pk for pk in ids])
            got_f.append([pk - first_pk for pk in method("semantic", filtered=True)(i)[1]])
        recall[str(ef)] = {
            "unfiltered": sum(len(set(g) & set(e)) for g, e in zip(got, exact)) / (10 * len(got)),
            "filtered": sum(len(set(g) & set(e)) for g, e in zip(got_f, exact_filtered)) / (10 * len(got_f)),
            "filtered_short": sum(len(g) < 10 for g in got_f),
        }
        semantic_ms[str(ef)] = median(ms)
    with connection.cursor() as cursor:
        cursor.execute("RESET hnsw.ef_search")
        memory = server_pss(cursor)

    explain: dict[str, str] = {}
    i = measured_i[0]
    with connection.cursor() as cursor:
        for name, qs in {
            "hybrid": Chunk.objects.hybrid(qtext[i], vector=qvec[i], weights=WEIGHTS)[:10],
            "semantic": Chunk.objects.semantic(vector=qvec[i])[:10],
            "keyword": Chunk.objects.keyword(qtext[i])[:10],
            "semantic, filtered to 10%": Chunk.objects.filter(document__collection=small).semantic(vector=qvec[i])[:10],
        }.items():
            sql, params = qs.query.get_compiler(using=qs.db).as_sql()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            explain[name] = re.sub(r"'\[[-0-9.,e]{100,}\]'", "'[...]'", "\n".join(r[0] for r in cursor.fetchall()))

    import django

    return {
        "size": size, "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "versions": f"Django {django.get_version()}, {server_version.split(',')[0]}, pgvector {pgvector_version}",
        "shared_buffers": shared_buffers, "maintenance_work_mem": args.maintenance_work_mem,
        "default_ef_search": default_ef, "prewarmed": prewarmed,
        "load_seconds": state["load_seconds"], "hnsw_seconds": state["hnsw_seconds"],
        "hnsw_notices": state.get("hnsw_notices", []),
        "parallel_maintenance_workers": state.get("parallel_maintenance_workers"),
        "sizes": sizes, "postings": postings,
        "p50": {k: median(v) for k, v in times.items()}, "p95": {k: percentile(v, 95) for k, v in times.items()},
        "queries": len(measured), "rounds": args.rounds, "load_average": [load_before, load_after],
        "recall": recall, "semantic_ms_by_ef": semantic_ms,
        "server_pss": memory, "client_peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "explain": explain,
    }


# --- the report -------------------------------------------------------------------------


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def report(results: list[dict[str, Any]], command: str) -> str:
    results = sorted(results, key=lambda r: r["size"])
    last = results[-1]
    lines = [
        f"`benchmarks/scale.py`: {DIMENSIONS}-dimension chunks (SciFact abstracts copied and varied; vectors "
        f"generated to cluster as sentence embeddings do, see the script), each size in a database of its own. "
        f"Measured {', '.join(sorted({r['date'] for r in results}))} on {last['machine']} while other processes "
        f"ran, {last['versions']}, shared_buffers {last['shared_buffers']}, maintenance_work_mem "
        f"{last['maintenance_work_mem']} for the HNSW build (max_parallel_maintenance_workers "
        f"{last['parallel_maintenance_workers']}).",
        "",
        "```",
        command,
        "```",
        "",
        "Loading (`bulk_create` + `copy_rows`, 5,000 chunks a transaction, BM25 triggers and the GIN index "
        "live, no HNSW index), then one HNSW build (`ensure_index`, m 16, ef_construction 64); sizes after "
        "`VACUUM ANALYZE`:",
        "",
        table(
            ["chunks", "load s", "rows/s", "HNSW build s", "table (with TOAST)", "HNSW", "GIN", "BM25 postings",
             "postings rows", "server PSS"],
            [[f"{r['size']:,}", f"{r['load_seconds']:.0f}", f"{r['size'] / r['load_seconds']:,.0f}",
              f"{r['hnsw_seconds']:.0f}", mb(r["sizes"]["table"]), mb(r["sizes"]["hnsw"]), mb(r["sizes"]["gin"]),
              mb(r["sizes"]["postings"]), f"{r['postings']:,}", mb(r["server_pss"])] for r in results],
        ),
        "",
        f"Searches: `list(Chunk.objects.<mode>(...)[:10])`, {last['queries']} SciFact test claims x "
        f"{last['rounds']} rounds, interleaved, after warm-up; the package defaults (100 candidates per leg, "
        f"`hnsw.ef_search` {last['default_ef_search']}, iterative scans `relaxed_order`), hybrid with both legs "
        "weighted 1. Filtered: `Chunk.objects.filter(document__collection=c)` with c holding 10% of the chunks. "
        "Recall@10: the semantic top 10 against an exact search over the same vectors, at the default "
        "`ef_search`.",
        "",
        table(
            ["chunks", "hybrid p50 ms", "hybrid p95 ms", "semantic p50 ms", "keyword p50 ms",
             "hybrid filtered p50 ms", "recall@10", "recall@10 filtered"],
            [[f"{r['size']:,}", r["p50"]["hybrid"], r["p95"]["hybrid"], r["p50"]["semantic"], r["p50"]["keyword"],
              r["p50"]["hybrid, filtered to 10%"], r["recall"][r["default_ef_search"]]["unfiltered"],
              r["recall"][r["default_ef_search"]]["filtered"]] for r in results],
        ),
        "",
        "Recall@10 and semantic p50 by `hnsw.ef_search` (`SET hnsw.ef_search`, or `SET LOCAL` in a transaction):",
        "",
        table(
            ["chunks"] + [f"ef_search {ef}: recall / filtered / p50 ms" for ef in EF_SEARCH],
            [[f"{r['size']:,}"] + [
                f"{r['recall'][str(ef)]['unfiltered']:.3f} / {r['recall'][str(ef)]['filtered']:.3f} / "
                f"{r['semantic_ms_by_ef'][str(ef)]:.1f}" for ef in EF_SEARCH] for r in results],
        ),
        "",
    ]
    lines += goals(results)
    lines += [
        "",
        f"Where a hybrid search's time goes at {last['size']:,} chunks (`EXPLAIN (ANALYZE, BUFFERS)` of one "
        "query, after the timed runs):",
        "",
        "```",
        last["explain"]["hybrid"],
        "```",
        "",
    ]
    return "\n".join(lines)


def goals(results: list[dict[str, Any]]) -> list[str]:
    by = {r["size"]: r for r in results}
    out = ["Goals:", ""]
    if 1_000_000 in by and 100_000 in by:
        big, ref = by[1_000_000]["p50"]["hybrid"], by[100_000]["p50"]["hybrid"]
        out.append(f"- hybrid p50 at 1,000,000: {big:.1f} ms, {big / ref:.2f}x the 100,000 figure ({ref:.1f} ms): "
                   f"{'met' if big <= 2 * ref and big <= 15 else 'missed'} (goal: at most 2x and at most 15 ms).")
    else:
        out.append("- hybrid p50 at 1,000,000: not measured yet.")
    for r in results:
        rec = r["recall"][r["default_ef_search"]]
        verdict = "met" if min(rec["unfiltered"], rec["filtered"]) >= 0.95 else "missed"
        fix = next((ef for ef in EF_SEARCH if min(r["recall"][str(ef)]["unfiltered"], r["recall"][str(ef)]["filtered"])
                    >= 0.95), None)
        note = "" if verdict == "met" or fix is None else f"; ef_search {fix} reaches it"
        out.append(f"- recall@10 at {r['size']:,}: {rec['unfiltered']:.3f}, filtered {rec['filtered']:.3f}: "
                   f"{verdict} (goal 0.95){note}.")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--resume", action="store_true", help="skip sizes measured, continue a load cut short")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--maintenance-work-mem", default="3GB")
    parser.add_argument("--commit", action="store_true", help="git commit benchmarks/RESULTS.md after each size")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--describe", action="store_true", help="print the generated vectors' similarities")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process measuring one size
    args = parser.parse_args()
    STATE.mkdir(parents=True, exist_ok=True)
    if args.describe:
        corpus, _, _ = load_scifact()
        for name, value in describe(VectorSpace(len(corpus))).items():
            print(f"{name}: cosine {value:.3f}")
        return
    if args.one:
        result = measure(args.one, args)
        (STATE / f"{args.one}.json").write_text(json.dumps(result, indent=1))
        return
    environment = [f"BENCH_SHARED_BUFFERS={os.environ['BENCH_SHARED_BUFFERS']}"] if os.environ.get("BENCH_SHARED_BUFFERS") else []
    command = " ".join([*environment, ".venv/bin/python", "benchmarks/scale.py", *map(shlex.quote, sys.argv[1:])])
    sizes = [int(s) for s in args.sizes.split(",") if s]
    for size in sizes:
        if size % BATCH:
            parser.error(f"sizes must be multiples of {BATCH}")
    def publish(message: str) -> None:
        results = [json.loads(p.read_text()) for p in sorted(STATE.glob("*.json")) if p.stem.isdigit()]
        body = report(results, command)
        print(body)
        if not args.no_write:
            write_results_section(SECTION, body)
            if args.commit:
                subprocess.run(["git", "commit", "-q", "-m", message, "--", str(RESULTS)], cwd=REPO, check=False)

    measured = 0
    for size in sizes:
        done = STATE / f"{size}.json"
        if args.resume and done.exists():
            print(f"{size:,}: measured already ({done})", file=sys.stderr)
            continue
        done.unlink(missing_ok=True)
        began = time.perf_counter()
        child = [sys.executable, __file__, "--one", str(size), "--queries", str(args.queries),
                 "--warmup", str(args.warmup), "--rounds", str(args.rounds),
                 "--maintenance-work-mem", args.maintenance_work_mem] + (["--resume"] if args.resume else [])
        subprocess.run(child, check=True)
        print(f"{size:,}: done in {time.perf_counter() - began:.0f}s", file=sys.stderr, flush=True)
        measured += 1
        publish(f"Scale benchmark: {size:,} chunks measured")
    if not measured:  # every size measured before (--resume): the section from their figures
        publish("Scale benchmark: the section rewritten from the sizes measured")


if __name__ == "__main__":
    main()
