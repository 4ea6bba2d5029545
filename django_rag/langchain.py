"""Deprecated import path of the LangChain VectorStore adapter.

The adapter is :mod:`django_rag.integrations.langchain`: three modules were called
``langchain.py`` (this one, ``embedders/langchain.py`` and ``llms/langchain.py``).
Importing from here still works, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any

from .integrations import langchain as _moved
from .integrations.langchain import ID_KEY, DjangoRAGEmbeddings, DjangoRAGVectorStore, maximal_marginal_relevance

warnings.warn(
    "django_rag.langchain moved to django_rag.integrations.langchain; import DjangoRAGVectorStore from there.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    # Anything else the module had (private names included) is found where it lives now.
    return getattr(_moved, name)


__all__ = ["ID_KEY", "DjangoRAGEmbeddings", "DjangoRAGVectorStore", "maximal_marginal_relevance"]
