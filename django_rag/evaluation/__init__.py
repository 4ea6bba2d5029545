"""Evaluation of retrieval (and, later, answers) on your own data."""

from .metrics import mrr_at_k, ndcg_at_k, recall_at_k

__all__ = ["mrr_at_k", "ndcg_at_k", "recall_at_k"]
