"""The cost of ask() beyond the embedder and the LLM, at 100,000 chunks.

    .venv/bin/python benchmarks/ask_overhead.py        # after benchmarks/latency.py has loaded its rows

Uses the 100,000-chunk database that benchmarks/latency.py builds (rag_latency), the
hashing embedder those rows were made with, and the scripted test LLM, which answers
instantly. For each of 200 SciFact questions it measures ask() end to end and subtracts
the time ask() itself reports for embedding the question and for generating: what is
left is django-rag's own work (validation, retrieval SQL, sources, prompt rendering,
citation parsing, the QueryLog row). Caching is off, so every call does all of it; a
second table shows cache hits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_scifact, median, percentile, setup_django, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["hybrid", "keyword", "semantic"], default="hybrid",
                        help="the search ask() runs (default hybrid)")
    args = parser.parse_args()
    setup_django(
        "rag_latency",
        rag={
            "EMBEDDERS": {"default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": 384}}},
            "LLMS": {"default": {"BACKEND": "django_rag.llms.testing.LLM", "OPTIONS": {"responses": ["An answer [1]."]}}},
            "CACHE": None,
        },
    )
    from django.conf import settings
    from django.test.utils import override_settings

    import django_rag
    from django_rag.models import Chunk

    chunks = Chunk.objects.count()
    if chunks < 50_000:
        sys.exit(f"rag_latency holds {chunks} chunks; run benchmarks/latency.py first to load 100,000.")
    _, queries, _ = load_scifact()
    questions = list(queries.values())[:200]
    for q in questions[:20]:  # warm up connections, caches and plans
        django_rag.ask(q, mode=args.mode)

    def measure(label: str) -> list:
        totals, overheads, retrieval = [], [], []
        for q in questions:
            t = time.perf_counter()
            answer = django_rag.ask(q, mode=args.mode)
            total = (time.perf_counter() - t) * 1000
            overhead = total - answer.timings.get("embed", 0.0) - answer.timings.get("generate", 0.0)
            totals.append(total)
            overheads.append(overhead)
            retrieval.append(answer.timings.get("retrieve", 0.0))
        return [label, median(overheads), percentile(overheads, 95), median(retrieval), median(totals)]

    rows = [measure("ask(), no cache")]
    with override_settings(
        # 200 answers and 200 query vectors: above LocMemCache's default of 300 entries.
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10_000}}},
        DJANGO_RAG={**settings.DJANGO_RAG, "CACHE": "default"},
    ):
        for q in questions:
            django_rag.ask(q, mode=args.mode)  # fill the cache
        rows.append(measure("ask(), cache hit"))
    print(f"\nask(mode={args.mode!r}) overhead at {chunks:,} chunks, {len(questions)} questions "
          "(ms; embedder and LLM excluded)\n")
    print(table(["path", "overhead p50", "overhead p95", "of which retrieval p50", "total p50"], rows))


if __name__ == "__main__":
    main()
