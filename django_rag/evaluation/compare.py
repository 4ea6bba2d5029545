"""Side-by-side comparison of stored evaluation runs (the admin's "Compare" action)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

METRIC_LABELS = {
    "ndcg": "nDCG@k",
    "recall": "recall@k",
    "mrr": "MRR@k",
    "faithfulness": "faithfulness",
    "answer_relevancy": "answer relevancy",
    "context_precision": "context precision",
    "context_recall": "context recall",
    "mean_latency_ms": "mean search (ms)",
}
#: How many questions "where the runs differ most" lists.
MOST_DIFFERENT = 20


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"search": {"rrf_k": 60}}`` -> ``{"search.rrf_k": 60}``: settings compared key by key."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def compare_runs(runs: Sequence[Any]) -> dict[str, Any]:
    """Metrics of ``runs`` side by side, the settings that differ, and the questions that moved most."""
    metrics = []
    for name, label in METRIC_LABELS.items():
        values = [getattr(run, name) for run in runs]
        if all(value is None for value in values):
            continue
        measured = [value for value in values if value is not None]
        # Lower is better only for latency.
        best = min(measured) if name == "mean_latency_ms" else max(measured)
        metrics.append({"label": label, "cells": [{"value": v, "best": v == best and len(runs) > 1} for v in values]})
    snapshots = [flatten(run.settings_snapshot) for run in runs]
    keys = sorted(set().union(*snapshots)) if snapshots else []
    differences = [
        {"key": key, "values": [snapshot.get(key, "") for snapshot in snapshots]}
        for key in keys
        if len({repr(snapshot.get(key)) for snapshot in snapshots}) > 1
    ]
    return {
        "runs": list(runs),
        "metrics": metrics,
        "differences": differences,
        "questions": _questions_that_moved(runs[0], runs[1]) if len(runs) == 2 else [],
    }


def _questions_that_moved(first: Any, second: Any) -> list[dict[str, Any]]:
    if first.dataset != second.dataset:
        return []
    before = {r.question_id: r for r in first.results.only("question_id", "question", "ndcg")}
    rows = []
    for result in second.results.only("question_id", "ndcg"):
        old = before.get(result.question_id)
        if old is None or old.ndcg is None or result.ndcg is None or old.ndcg == result.ndcg:
            continue
        rows.append({"question_id": result.question_id, "question": old.question, "before": old.ndcg,
                     "after": result.ndcg, "delta": result.ndcg - old.ndcg})
    rows.sort(key=lambda row: -abs(row["delta"]))
    return rows[:MOST_DIFFERENT]
