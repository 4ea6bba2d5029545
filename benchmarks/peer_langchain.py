"""The peer side of benchmarks/latency.py: langchain-postgres ``PGVectorStore`` hybrid search.

Runs in its own virtualenv (``scripts/make-peer-venv`` -> ``.venvs/peer``), because
langchain-postgres pins ``pgvector<0.4``, which breaks our Django stack. It never
imports Django or django_rag. benchmarks/latency.py drives it as a subprocess:

    python peer_langchain.py setup --url URL --table T --dims 384
        create the table with the peer's own API (``PGEngine.ainit_vectorstore_table``
        with a stored ``content_tsv`` tsvector column); latency.py then fills it with
        ``INSERT ... SELECT`` from django_rag_chunk (same texts, same vectors; its
        ``add_documents`` writes about 370 rows/s, see ENVIRONMENT.md) and computes
        ``content_tsv`` exactly as its ``add_embeddings`` would:
        ``to_tsvector('pg_catalog.english', content)``.
    python peer_langchain.py index --url URL --table T
        the HNSW index (``apply_vector_index(HNSWIndex())``: m 16, ef_construction 64,
        cosine, as ours) and the GIN index on ``content_tsv``
        (``apply_hybrid_search_index()``), both through the peer's API.
    python peer_langchain.py serve --url URL --table T --queries FILE
        answers JSON lines on stdin, one per search, with the time of the call and the
        ids of the results; see ``serve()``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import warnings
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_postgres import PGEngine, PGVectorStore
from langchain_postgres.v2.hybrid_search_config import HybridSearchConfig, reciprocal_rank_fusion
from langchain_postgres.v2.indexes import HNSWIndex

TSV_COLUMN = "content_tsv"
TSV_LANG = "pg_catalog.english"  # HybridSearchConfig's default


class LookupEmbeddings(Embeddings):
    """Hands back the query vectors latency.py computed, so no side pays for embedding.

    ``aembed_query`` is a coroutine of its own: langchain-core's default runs
    ``embed_query`` in a thread pool, a cost that is not the store's.
    """

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vectors[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.vectors[text]


def hybrid_config(candidates: int, rrf_k: float) -> HybridSearchConfig:
    """A NEW config for every call: a reused one keeps the first query's ``fts_query``
    (upstream issues #288, #337), which would make every later keyword leg search for
    the first query's words."""
    return HybridSearchConfig(
        tsv_column=TSV_COLUMN,
        tsv_lang=TSV_LANG,
        fusion_function=reciprocal_rank_fusion,
        fusion_function_parameters={"rrf_k": rrf_k},
        primary_top_k=candidates,
        secondary_top_k=candidates,
    )


def setup(args: argparse.Namespace) -> None:
    engine = PGEngine.from_connection_string(args.url)
    engine.init_vectorstore_table(
        args.table,
        args.dims,
        overwrite_existing=True,
        hybrid_search_config=HybridSearchConfig(tsv_column=TSV_COLUMN),
    )
    print(json.dumps({"ok": True}), flush=True)


def index(args: argparse.Namespace) -> None:
    engine = PGEngine.from_connection_string(args.url)
    store = PGVectorStore.create_sync(
        engine, LookupEmbeddings({}), args.table, hybrid_search_config=HybridSearchConfig(tsv_column=TSV_COLUMN)
    )
    timings = {}
    started = time.perf_counter()
    store.apply_vector_index(HNSWIndex())
    timings["hnsw_s"] = time.perf_counter() - started
    started = time.perf_counter()
    store.apply_hybrid_search_index()
    timings["gin_s"] = time.perf_counter() - started
    print(json.dumps(timings), flush=True)


def serve(args: argparse.Namespace) -> None:
    """One JSON line in, one out:

    ``{"op": "search", "i": n, "api": "sync"}``: ``PGVectorStore.similarity_search`` of
    query n, k=10 (the sync API, which runs the coroutine on the engine's background
    loop); ``"api": "async"`` awaits ``asimilarity_search`` on an engine made with
    ``PGEngine.from_engine`` in this thread's own loop (no thread hop). Answers
    ``{"ms": ..., "ids": [chunk ids]}``, timed around the call only.

    ``{"op": "keyword", "i": n}``: untimed; how many rows the peer's own keyword
    statement (``plainto_tsquery``, ts_rank_cd) returns for query n, with its LIMIT.

    ``{"op": "explain", "i": n}``: EXPLAIN ANALYZE of the two statements it sends.
    """
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    queries = json.load(open(args.queries))
    texts = [q["text"] for q in queries]
    vectors = {q["text"]: q["vector"] for q in queries}
    embeddings = LookupEmbeddings(vectors)
    candidates, rrf_k, k = args.candidates, args.rrf_k, args.k

    sync_engine = PGEngine.from_connection_string(args.url)
    sync_store = PGVectorStore.create_sync(sync_engine, embeddings, args.table, k=k)

    loop = asyncio.new_event_loop()
    async_engine = PGEngine.from_engine(create_async_engine(args.url))  # no background loop
    async_store = loop.run_until_complete(PGVectorStore.create(async_engine, embeddings, args.table, k=k))

    def chunk_ids(docs: list[Any]) -> list[int]:
        return [int(d.metadata.get("chunk_id", -1)) for d in docs]

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg["op"]
        if op == "quit":
            break
        query = texts[msg["i"]]
        if op == "search":
            config = hybrid_config(candidates, rrf_k)
            if msg.get("api", "sync") == "sync":
                started = time.perf_counter()
                docs = sync_store.similarity_search(query, k=k, hybrid_search_config=config)
                ms = (time.perf_counter() - started) * 1000
            else:
                started = time.perf_counter()
                docs = loop.run_until_complete(async_store.asimilarity_search(query, k=k, hybrid_search_config=config))
                ms = (time.perf_counter() - started) * 1000
            reply: dict[str, Any] = {"ms": ms, "ids": chunk_ids(docs)}
        elif op in ("keyword", "explain"):
            lang = f"'{TSV_LANG}',"
            sparse = (
                f'SELECT langchain_id, ts_rank_cd("{TSV_COLUMN}", plainto_tsquery({lang} :q)) AS distance '
                f'FROM "{args.table}" WHERE "{TSV_COLUMN}" @@ plainto_tsquery({lang} :q) '
                f"ORDER BY distance DESC LIMIT {candidates}"
            )
            dense = (
                f'SELECT langchain_id, content, embedding, langchain_metadata, embedding <=> :v AS distance '
                f'FROM "{args.table}" ORDER BY embedding <=> :v LIMIT {candidates}'
            )

            async def run() -> dict[str, Any]:
                async with async_engine._pool.connect() as conn:
                    if op == "keyword":
                        rows = (await conn.execute(text(sparse), {"q": query})).fetchall()
                        tsquery = (await conn.execute(text(f"SELECT plainto_tsquery({lang} :q)::text"), {"q": query})).scalar()
                        return {"rows": len(rows), "tsquery": tsquery}
                    out = {}
                    for name, sql, params in (("sparse", sparse, {"q": query}),
                                              ("dense", dense, {"v": str(vectors[query])})):
                        plan = (await conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params)).fetchall()
                        out[name] = "\n".join(r[0] for r in plan)
                    return out

            reply = loop.run_until_complete(run())
        else:
            reply = {"error": f"unknown op {op}"}
        print(json.dumps(reply), flush=True)
    loop.run_until_complete(async_engine._pool.dispose())
    loop.close()


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["setup", "index", "serve"])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL, e.g. postgresql+psycopg://...")
    parser.add_argument("--table", required=True)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries")
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--rrf-k", type=float, default=60)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    {"setup": setup, "index": index, "serve": serve}[args.command](args)


if __name__ == "__main__":
    main()
