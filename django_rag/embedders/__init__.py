"""Embedding backends, configured in ``DJANGO_RAG["EMBEDDERS"]``.

>>> from django_rag.embedders import embedders
>>> embedders["default"].embed_query("parental leave")
"""

from __future__ import annotations

from ..backends import BackendHandler
from ..conf import DEFAULT_EMBEDDER_ALIAS
from .base import BaseEmbedder

embedders: BackendHandler[BaseEmbedder] = BackendHandler("EMBEDDERS")


def get_embedder(alias: str = DEFAULT_EMBEDDER_ALIAS) -> BaseEmbedder:
    return embedders[alias]


__all__ = ["BaseEmbedder", "embedders", "get_embedder"]
