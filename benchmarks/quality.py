"""Retrieval quality on BEIR SciFact: keyword (BM25), semantic and hybrid, through the QuerySet API.

    .venv/bin/python benchmarks/quality.py                      # hashing embedder (offline, fast)
    .venvs/local/bin/python benchmarks/quality.py --embedder minilm   # all-MiniLM-L6-v2 (scripts/make-local-venv)

Every abstract becomes one Document (its title in ``title``) in a collection of its own, ingested
with the package's own pipeline and default chunking (1000 characters, 150 overlap; or
``--chunk-size``, ``--chunk-overlap`` and ``--chunk-unit tokens``: tokens are counted with
tiktoken's cl100k_base, the tokenizer of OpenAI's text-embedding-3 models, whatever the embedder);
vectors of the MiniLM run are cached in benchmarks/.cache between runs. A document's
rank is the rank of its best chunk. Scores are over all 300 test queries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import CACHE, load_scifact, median, percentile, setup_django, table  # noqa: E402

EMBEDDERS = {
    "hashing": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": 384}},
    "minilm": {
        "BACKEND": "benchmarks.cached_embedder.Embedder",
        "OPTIONS": {
            "backend": "django_rag.embedders.sentence_transformers.Embedder",
            "options": {"model": "all-MiniLM-L6-v2", "dimensions": 384},
            "path": str(CACHE / "minilm-vectors.sqlite3"),
        },
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), default="hashing")
    parser.add_argument("--candidates", type=int, default=100, help="candidates per leg (default 100)")
    parser.add_argument("--postings-per-term", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--chunk-overlap", type=int, default=None, help="default: 150, at most a fifth of the size")
    parser.add_argument("--chunk-unit", choices=["characters", "tokens"], default="characters",
                        help="what --chunk-size counts (tokens: cl100k_base, as OpenAI's embedders count)")
    parser.add_argument("--database", help="default rag_quality_EMBEDDER (reruns with other chunking re-ingest)")
    parser.add_argument("--semantic-weight", type=float, default=None, help="hybrid weight of the semantic leg")
    parser.add_argument("--skip-ingest", action="store_true", help="search what is already loaded")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    CACHE.mkdir(parents=True, exist_ok=True)
    embedder_config = EMBEDDERS[args.embedder]
    if args.chunk_unit == "tokens" and args.embedder == "hashing":
        # The hashing embedder has no tokenizer of its own: count as text-embedding-3 would.
        embedder_config = {**embedder_config, "OPTIONS": {**embedder_config["OPTIONS"], "tokenizer": "cl100k_base"}}
    overlap = min(150, args.chunk_size // 5) if args.chunk_overlap is None else args.chunk_overlap
    setup_django(
        args.database or f"rag_quality_{args.embedder}",
        rag={
            "EMBEDDERS": {"default": embedder_config},
            "CHUNK_SIZE": args.chunk_size,
            "CHUNK_OVERLAP": overlap,
            "CHUNK_UNIT": args.chunk_unit,
        },
    )

    from django_rag.evaluation import mrr_at_k, ndcg_at_k, recall_at_k
    from django_rag.embedders import get_embedder
    from django_rag.ingestion import ingest
    from django_rag.models import Chunk, Collection, Document

    corpus, queries, qrels = load_scifact()
    collection, _ = Collection.objects.get_or_create(slug="scifact", defaults={"name": "SciFact", "language": "english"})
    existing = {d.metadata.get("beir_id"): d for d in Document.objects.filter(collection=collection)}
    new = [
        # Title and body as a site would store them; CHUNK_CONTEXT puts the title in
        # every chunk's searched and embedded text.
        Document(collection=collection, title=doc["title"][:500], text=doc["text"],
                 metadata={"beir_id": doc["_id"], "format": "text"})
        for doc in corpus if doc["_id"] not in existing
    ]
    Document.objects.bulk_create(new, batch_size=1000)
    documents = list(Document.objects.filter(collection=collection))
    started = time.perf_counter()
    statuses: dict[str, int] = {}
    for n, document in enumerate([] if args.skip_ingest else documents, 1):
        result = ingest(document)  # unchanged documents cost nothing on a rerun
        statuses[result.status] = statuses.get(result.status, 0) + 1
        if n % 500 == 0:
            print(f"  ingested {n}/{len(documents)} {statuses}", file=sys.stderr)
    print(f"Ingestion: {statuses} in {time.perf_counter() - started:.1f}s; "
          f"{Chunk.objects.filter(document__collection=collection).count()} chunks", file=sys.stderr)

    beir_id = dict(Document.objects.filter(collection=collection).values_list("pk", "metadata__beir_id"))
    embedder = get_embedder()
    query_vectors = {qid: embedder.embed_query(text) for qid, text in queries.items()}
    base = Chunk.objects.filter(document__collection=collection)
    rows, results = [], {}
    for mode in ("keyword", "semantic", "hybrid"):
        ndcg, recall, mrr, times = [], [], [], []
        for qid, text in queries.items():
            options = {"candidates": args.candidates}
            if mode != "keyword":
                options["vector"] = query_vectors[qid]
            if mode != "semantic" and args.postings_per_term:
                options["postings_per_term"] = args.postings_per_term
            if mode == "hybrid" and args.semantic_weight is not None:
                options["weights"] = {"semantic": args.semantic_weight}
            t = time.perf_counter()
            ranked = list(getattr(base, mode)(text, **options).values_list("document_id", flat=True)[: args.candidates])
            times.append((time.perf_counter() - t) * 1000)
            ranking = [beir_id[d] for d in ranked]
            ndcg.append(ndcg_at_k(ranking, qrels[qid], 10))
            recall.append(recall_at_k(ranking, qrels[qid], 100))
            mrr.append(mrr_at_k(ranking, qrels[qid], 10))
        n = len(queries)
        results[mode] = {
            "ndcg@10": sum(ndcg) / n, "recall@100": sum(recall) / n, "mrr@10": sum(mrr) / n,
            "p50_ms": median(times), "p95_ms": percentile(times, 95), "per_query_ndcg": ndcg,
        }
        rows.append([mode, sum(ndcg) / n, sum(recall) / n, sum(mrr) / n, median(times), percentile(times, 95)])
    chunks = Chunk.objects.filter(document__collection=collection)
    print(f"\nSciFact test ({len(queries)} queries, {len(corpus)} documents, {chunks.count()} chunks of "
          f"{args.chunk_size} {args.chunk_unit} with {overlap} overlap), embedder {args.embedder} "
          f"({embedder.identity}), {args.candidates} candidates per leg\n")
    print(table(["mode", "nDCG@10", "recall@100", "MRR@10", "p50 ms", "p95 ms"], rows))
    best_single = max(results["keyword"]["ndcg@10"], results["semantic"]["ndcg@10"])
    print(f"\nhybrid - best single leg: {results['hybrid']['ndcg@10'] - best_single:+.3f}")
    if args.json:
        chunking = {"size": args.chunk_size, "overlap": overlap, "unit": args.chunk_unit}
        Path(args.json).write_text(json.dumps({"embedder": args.embedder, "chunking": chunking, "results": results},
                                              indent=1))


if __name__ == "__main__":
    main()
