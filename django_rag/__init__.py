"""django-rag: retrieval-augmented generation for Django, in your own PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.db.models import Model

    from .ingestion import IngestResult
    from .models import Chunk, Document, EvalRun
    from .registry import Registration


def ingest(document: "Document | int", *, force: bool = False, **options: Any) -> "IngestResult":
    """Extract, split, embed and store a document's chunks. See :func:`django_rag.ingestion.ingest`."""
    from .ingestion import ingest as _ingest

    return _ingest(document, force=force, **options)


def ingest_many(documents: "Iterable[Document | int]", **options: Any) -> "list[IngestResult]":
    """Ingest many documents, several per transaction. See :func:`django_rag.ingestion.ingest_many`."""
    from .ingestion import ingest_many as _ingest_many

    return _ingest_many(documents, **options)


def search(query: str, **options: Any) -> "list[Chunk]":
    """The best chunks for ``query``. See :func:`django_rag.shortcuts.search`."""
    from .shortcuts import search as _search

    return _search(query, **options)


def ask(question: str, **options: Any):
    """Answer ``question`` with citations. See :func:`django_rag.generation.ask`."""
    from .generation import ask as _ask

    return _ask(question, **options)


def stream(question: str, **options: Any):
    """Stream an answer as events. See :func:`django_rag.generation.stream`."""
    from .generation import stream as _stream

    return _stream(question, **options)


def read_from_primary():
    """Read from the primary database for a while. See :func:`django_rag.routing.read_from_primary`."""
    from .routing import read_from_primary as _read_from_primary

    return _read_from_primary()


async def aask(question: str, **options: Any):
    """Async twin of :func:`ask`."""
    from .generation import aask as _aask

    return await _aask(question, **options)


def evaluate(dataset: Any, **options: Any) -> "list[EvalRun]":
    """Score retrieval (and answers) on a dataset; one stored run per mode. See :func:`django_rag.evaluation.evaluate`."""
    from .evaluation.runner import evaluate as _evaluate

    return _evaluate(dataset, **options)


def register(model: "type[Model]", **options: Any) -> "Registration":
    """Index a model's instances and keep them indexed. See :func:`django_rag.registry.register`."""
    from .registry import register as _register

    return _register(model, **options)


def unregister(model: "type[Model]") -> None:
    """Stop indexing a model registered with :func:`register`."""
    from .registry import unregister as _unregister

    _unregister(model)


def reindex_model(model_or_label: "type[Model] | str", progress: Any = None) -> dict[str, int]:
    """Index every instance of a registered model. See :func:`django_rag.registry.reindex_model`."""
    from .registry import reindex_model as _reindex_model

    return _reindex_model(model_or_label, progress=progress)
