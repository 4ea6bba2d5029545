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


#: What each row asks: ask()'s keyword arguments. The hashing embedder's (and its test
#: double's) semantic leg is weighted 0 by default, so ask() runs it only when the
#: keyword leg finds fewer than k chunks; "both legs weighted" is what an embedder with
#: a meaningful semantic leg (MiniLM, OpenAI, Ollama) costs.
CONFIGURATIONS = {
    "hybrid, the embedder's weights (semantic 0)": {},
    "hybrid, both legs weighted 1": {"weights": {"semantic": 1.0, "keyword": 1.0}},
    "keyword only": {"mode": "keyword"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rag_latency",
                        help="a database loaded by benchmarks/latency.py (or benchmarks/api_load.py, the same rows)")
    args = parser.parse_args()
    setup_django(
        args.database,
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
        sys.exit(f"{args.database} holds {chunks} chunks; run benchmarks/latency.py first to load 100,000.")
    _, queries, _ = load_scifact()
    questions = list(queries.values())[:200]
    for options in CONFIGURATIONS.values():
        for q in questions[:20]:  # warm up connections, caches and plans
            django_rag.ask(q, **options)

    def measure(label: str, options: dict) -> list:
        totals, overheads, retrieval = [], [], []
        for q in questions:
            t = time.perf_counter()
            answer = django_rag.ask(q, **options)
            total = (time.perf_counter() - t) * 1000
            overhead = total - answer.timings.get("embed", 0.0) - answer.timings.get("generate", 0.0)
            totals.append(total)
            overheads.append(overhead)
            retrieval.append(answer.timings.get("retrieve", 0.0))
        return [label, median(overheads), percentile(overheads, 95), median(retrieval), median(totals)]

    rows = [measure(f"{label}, no cache", options) for label, options in CONFIGURATIONS.items()]
    with override_settings(
        # 200 answers and 200 query vectors: above LocMemCache's default of 300 entries.
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10_000}}},
        DJANGO_RAG={**settings.DJANGO_RAG, "CACHE": "default"},
    ):
        for q in questions:
            django_rag.ask(q)  # fill the cache
        rows.append(measure("cache hit", {}))
    print(f"\nask() overhead at {chunks:,} chunks, {len(questions)} questions (ms; embedder and LLM excluded)\n")
    print(table(["path", "overhead p50", "overhead p95", "of which retrieval p50", "total p50"], rows))


if __name__ == "__main__":
    main()
