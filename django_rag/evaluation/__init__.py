"""Evaluation of retrieval and answers on your own data (see docs/evaluation.md)."""

from __future__ import annotations

from typing import Any

from .datasets import Dataset, DatasetError, EvalQuestion, load_dataset
from .metrics import mrr_at_k, ndcg_at_k, recall_at_k


def evaluate(dataset: Any, **options: Any) -> list[Any]:
    """Evaluate on ``dataset`` and store the runs. See :func:`django_rag.evaluation.runner.evaluate`."""
    # Imported here: the runner needs the models, this package must import before apps are ready.
    from .runner import evaluate as _evaluate

    return _evaluate(dataset, **options)


__all__ = [
    "Dataset", "DatasetError", "EvalQuestion", "evaluate", "load_dataset", "mrr_at_k", "ndcg_at_k", "recall_at_k",
]
