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
