"""Retrieval: the SQL behind ``Chunk.objects.semantic()`` and friends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import F, FloatField, Func
from django.db.models.expressions import RawSQL

from .embedders import BaseEmbedder, get_embedder


class VectorCast(Func):
    """``(column)::vector(N)``: the exact expression each partial HNSW index is built on."""

    template = "(%(expressions)s)::vector(%(dimensions)s)"
    output_field = FloatField()  # never selected on its own; only inside a distance

    def __init__(self, expression: Any, dimensions: int) -> None:
        super().__init__(expression, dimensions=int(dimensions))


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(map(repr, (float(x) for x in vector))) + "]"


def cosine_distance(vector: Sequence[float], dimensions: int) -> RawSQL | Func:
    """``embedding::vector(N) <=> 'query'::vector(N)`` as an expression."""
    return Func(
        VectorCast(F("embedding"), dimensions),
        RawSQL(f"%s::vector({int(dimensions)})", [vector_literal(vector)]),
        function="",
        arg_joiner=" <=> ",
        template="(%(expressions)s)",
        output_field=FloatField(),
    )


def resolve_embedder(embedder: BaseEmbedder | str | None) -> BaseEmbedder:
    if embedder is None:
        return get_embedder()
    if isinstance(embedder, str):
        return get_embedder(embedder)
    return embedder


__all__ = ["VectorCast", "cosine_distance", "resolve_embedder"]
