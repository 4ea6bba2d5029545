"""Metric definitions checked against values computed by hand."""

import math

import pytest

from django_rag.evaluation import mrr_at_k, ndcg_at_k, recall_at_k


def test_ndcg_by_hand():
    relevant = {"a": 1, "b": 2}
    # ranking: x, b, a -> DCG = 0/log2(2) + 2/log2(3) + 1/log2(4); IDCG = 2/log2(2) + 1/log2(3)
    dcg = 2 / math.log2(3) + 1 / 2
    idcg = 2 + 1 / math.log2(3)
    assert ndcg_at_k(["x", "b", "a"], relevant, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["b", "a"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], relevant, 10) == 0.0
    # Only the top k count.
    assert ndcg_at_k(["x", "b"], relevant, 1) == 0.0


def test_duplicates_count_once():
    # Several chunks of one document retrieved in a row are one document.
    assert ndcg_at_k(["a", "a", "b"], {"b": 1}, 2) == pytest.approx(1 / math.log2(3))


def test_recall_and_mrr():
    relevant = {"a": 1, "b": 1, "c": 0}
    assert recall_at_k(["a", "x", "c"], relevant, 100) == 0.5
    assert recall_at_k(["x", "a", "b"], relevant, 2) == 0.5
    assert recall_at_k(["a"], {}, 10) == 0.0
    assert mrr_at_k(["x", "y", "b"], relevant, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "c"], relevant, 10) == 0.0


def test_graded_case_computed_by_hand_as_trec_eval_does():
    # Judgments: a=3, b=2, c=1, d=0 (judged non-relevant); x is unjudged.
    relevant = {"a": 3, "b": 2, "c": 1, "d": 0}
    ranking = ["d", "c", "x", "a", "b"]
    # Linear gain, log2(rank + 1) discount:
    #   DCG@5  = 0/1 + 1/log2(3) + 0/2 + 3/log2(5) + 2/log2(6) = 0.6309298 + 1.2920297 + 0.7737056 = 2.6966651
    #   IDCG@5 = 3/1 + 2/log2(3) + 1/2                        = 3 + 1.2618595 + 0.5           = 4.7618595
    #   DCG@3  = 0.6309298; IDCG@3 = 4.7618595 (the three positive judgments fit in the top 3)
    assert ndcg_at_k(ranking, relevant, 5) == pytest.approx(2.6966651 / 4.7618595, abs=1e-6)
    assert ndcg_at_k(ranking, relevant, 3) == pytest.approx(0.6309298 / 4.7618595, abs=1e-6)
    assert ndcg_at_k(ranking, relevant, 5) == pytest.approx(0.566305, abs=1e-6)
    # recall counts relevance > 0 only: c of {a, b, c} in the top 3, all three in the top 5.
    assert recall_at_k(ranking, relevant, 3) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, relevant, 5) == 1.0
    # MRR: d is judged but not relevant, so the first relevant document is c at rank 2.
    assert mrr_at_k(ranking, relevant, 10) == 0.5
    assert mrr_at_k(ranking, relevant, 1) == 0.0
