"""How many BM25 postings the keyword leg must read, and what reading fewer costs.

    .venv/bin/python benchmarks/postings_budget.py                       # SciFact, 5,183 abstracts
    .venv/bin/python benchmarks/postings_budget.py --database rag_latency --queries 200

The keyword leg's time is spent reading and summing postings (0.4-0.5 microseconds each
inside PostgreSQL), so the only large saving left is to read fewer of them. This replays
the choice offline: for each test query it reads, once, the best postings of every query
term from a benchmark database (``rag_quality_hashing``, loaded by benchmarks/quality.py,
or ``rag_latency``, the 100,000 chunks of benchmarks/latency.py), then scores the top 10
under several reading strategies and reports nDCG@10 (a SciFact document at its best
chunk) against the postings read per query:

* ``share``: what django-rag does. The rarest term reads ``budget`` postings, every other
  term ``budget * idf / max idf`` (``share^2``: that ratio squared, cutting common terms
  harder).
* ``global``: score-at-a-time, the ``budget`` postings with the largest ``idf * impact``
  over all terms.
* ``exhaustive``: every posting read (up to ``--cap`` per term).

Scores are the sums of what was read, as in the SQL; ties break by chunk id.
"""

from __future__ import annotations

import argparse
import heapq
import math
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_scifact, setup_django, table  # noqa: E402

# term -> (idf, [(chunk_id, impact), ...] best first)
Lists = dict[str, tuple[float, list[tuple[int, float]]]]


def read_postings(query: str, cap: int) -> Lists:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.config::text, t.lexeme, ln(1.0::float8 + (s.chunks - t.df + 0.5::float8) / (t.df + 0.5::float8))"
            " FROM django_rag_corpus s"
            " CROSS JOIN LATERAL (SELECT DISTINCT lexeme FROM unnest(to_tsvector(s.config, %s))) q"
            " JOIN django_rag_term t ON t.config = s.config AND t.lexeme = q.lexeme WHERE t.df > 0",
            [query],
        )
        terms = cursor.fetchall()
        lists: Lists = {}
        for config, lexeme, idf in terms:
            cursor.execute(
                "SELECT chunk_id, impact FROM django_rag_posting WHERE config = %s::regconfig AND lexeme = %s"
                " ORDER BY impact DESC LIMIT %s",
                [config, lexeme, cap],
            )
            lists[f"{config}:{lexeme}"] = (idf, cursor.fetchall())
    return lists


def by_share(budget: int, power: float = 1.0) -> Callable[[Lists], tuple[dict[int, float], int]]:
    def score(lists: Lists) -> tuple[dict[int, float], int]:
        top = max(idf for idf, _ in lists.values())
        scores: dict[int, float] = {}
        read = 0
        for idf, postings in lists.values():
            for chunk, impact in postings[: math.ceil(budget * (idf / top) ** power)]:
                scores[chunk] = scores.get(chunk, 0.0) + idf * impact
                read += 1
        return scores, read
    return score


def by_contribution(budget: int) -> Callable[[Lists], tuple[dict[int, float], int]]:
    def score(lists: Lists) -> tuple[dict[int, float], int]:
        best = heapq.nlargest(budget, ((idf * impact, chunk) for idf, postings in lists.values()
                                       for chunk, impact in postings))
        scores: dict[int, float] = {}
        for contribution, chunk in best:
            scores[chunk] = scores.get(chunk, 0.0) + contribution
        return scores, len(best)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rag_quality_hashing")
    parser.add_argument("--queries", type=int, default=300, help="SciFact test queries (default all 300)")
    parser.add_argument("--cap", type=int, default=3000, help="postings read per term at most (default 3000)")
    args = parser.parse_args()
    setup_django(args.database)
    from django_rag.evaluation import ndcg_at_k
    from django_rag.models import Chunk

    beir_of = {
        pk: chunk_id or document_id
        for pk, chunk_id, document_id in Chunk.objects.values_list(
            "pk", "metadata__beir_id", "document__metadata__beir_id")
    }
    if not beir_of:
        sys.exit(f"{args.database} holds no chunks: run benchmarks/quality.py or benchmarks/latency.py first.")
    _, queries, qrels = load_scifact()
    chosen = list(queries)[: args.queries]
    print(f"Reading the postings of {len(chosen)} queries from {args.database}...", file=sys.stderr)
    postings = {q: read_postings(queries[q], args.cap) for q in chosen}

    strategies: dict[str, Callable[[Lists], tuple[dict[int, float], int]]] = {
        f"exhaustive (up to {args.cap} per term)": by_share(10**9, 0.0),
    }
    for budget in (300, 500, 1000, 2000):
        strategies[f"share, budget {budget}"] = by_share(budget)
    for budget in (500, 1000):
        strategies[f"share^2, budget {budget}"] = by_share(budget, 2.0)
    for budget in (1000, 2000, 3000, 5000):
        strategies[f"global, {budget} postings"] = by_contribution(budget)

    rows = []
    for name, strategy in strategies.items():
        total_ndcg = total_read = 0.0
        for q in chosen:
            if not postings[q]:
                continue
            scores, read = strategy(postings[q])
            top10 = [chunk for chunk, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:10]]
            total_ndcg += ndcg_at_k([beir_of[c] for c in top10], qrels[q], 10)
            total_read += read
        rows.append([name, total_ndcg / len(chosen), round(total_read / len(chosen))])
    print(f"\n{args.database}: {len(beir_of):,} chunks, {len(chosen)} queries; nDCG@10 of the keyword ranking\n")
    print(table(["strategy", "nDCG@10", "postings read per query"], rows))


if __name__ == "__main__":
    main()
