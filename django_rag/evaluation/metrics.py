"""Retrieval metrics with the definitions BEIR uses (through pytrec_eval).

``ranking`` is the retrieved document ids, best first; ``relevant`` maps relevant
document ids to their graded relevance (documents not in it count as 0).

- nDCG@k: gain = relevance (linear, as trec_eval's ``ndcg_cut``), discount
  ``1 / log2(rank + 1)``; the ideal ranking sorts all judged relevances. A query with
  no relevant document retrieved in the top k scores 0.
- recall@k: relevant documents (relevance > 0) in the top k / all relevant documents.
- MRR@k: 1 / rank of the first relevant document in the top k, else 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _dedupe(ranking: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for doc_id in ranking:
        seen.setdefault(doc_id, None)
    return list(seen)


def ndcg_at_k(ranking: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    ranking = _dedupe(ranking)[:k]
    dcg = sum(relevant.get(doc_id, 0) / math.log2(rank + 2) for rank, doc_id in enumerate(ranking))
    ideal = sorted((r for r in relevant.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(rank + 2) for rank, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranking: Sequence[str], relevant: Mapping[str, float], k: int = 100) -> float:
    wanted = {doc_id for doc_id, r in relevant.items() if r > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(_dedupe(ranking)[:k])) / len(wanted)


def mrr_at_k(ranking: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    for rank, doc_id in enumerate(_dedupe(ranking)[:k], start=1):
        if relevant.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0
