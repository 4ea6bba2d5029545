"""django-rag: retrieval-augmented generation for Django, in your own PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# The functions below import their modules when called, so ``import django_rag`` (and
# ``from django_rag import ask`` in a models.py) works before Django's apps are loaded.
# Their signatures repeat the real ones for readers and type checkers;
# tests/test_typing.py checks that they still match.

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from contextlib import AbstractContextManager

    from django.db.models import Model, Q

    from .access import Asker
    from .embedders import BaseEmbedder
    from .generation import Answer
    from .ingestion.pipeline import IngestResult
    from .llms import BaseLLM
    from .models import Chunk, Collection, Document, EvalRun
    from .querysets import ChunkQuerySet
    from .registry import Getter, Registration
    from .retrieval import Mode, SearchOptions


def ingest(
    document: Document | int,
    *,
    force: bool = False,
    embedder: str | BaseEmbedder = "default",
    raise_errors: bool = False,
    using: str = "default",
) -> IngestResult:
    """Extract, split, embed and store a document's chunks. See :func:`django_rag.ingestion.ingest`."""
    from .ingestion import ingest as _ingest

    return _ingest(document, force=force, embedder=embedder, raise_errors=raise_errors, using=using)


def ingest_many(
    documents: Iterable[Document | int],
    *,
    force: bool = False,
    embedder: str | BaseEmbedder = "default",
    batch_size: int | None = None,
    using: str = "default",
    on_result: Callable[[IngestResult], None] | None = None,
) -> list[IngestResult]:
    """Ingest many documents, several per transaction. See :func:`django_rag.ingestion.ingest_many`."""
    from .ingestion import ingest_many as _ingest_many

    return _ingest_many(
        documents, force=force, embedder=embedder, batch_size=batch_size, using=using, on_result=on_result
    )


def search(
    query: str,
    *,
    user: Asker = None,
    collection: Collection | str | int | None = None,
    k: int = 5,
    mode: Mode = "hybrid",
    queryset: ChunkQuerySet | None = None,
    options: SearchOptions | None = None,
    vector: Sequence[float] | None = None,
    embedder: BaseEmbedder | str | None = None,
    language: str | None = None,
    candidates: int | None = None,
    rrf_k: float | None = None,
    weights: dict[str, float] | None = None,
    postings_per_term: int | None = None,
    min_score: float | None = None,
) -> list[Chunk]:
    """The best chunks for ``query``. See :func:`django_rag.shortcuts.search`."""
    from .shortcuts import search as _search

    return _search(
        query, user=user, collection=collection, k=k, mode=mode, queryset=queryset, options=options,
        vector=vector, embedder=embedder, language=language, candidates=candidates, rrf_k=rrf_k,
        weights=weights, postings_per_term=postings_per_term, min_score=min_score,
    )


def ask(
    question: str,
    *,
    user: Asker = None,
    collection: Collection | str | int | None = None,
    history: Sequence[Mapping[str, str]] | None = None,
    k: int | None = None,
    mode: Mode = "hybrid",
    llm: BaseLLM | str = "default",
    embedder: BaseEmbedder | str | None = None,
    queryset: ChunkQuerySet | None = None,
    use_cache: bool = True,
    options: SearchOptions | None = None,
    language: str | None = None,
    candidates: int | None = None,
    rrf_k: float | None = None,
    weights: dict[str, float] | None = None,
    postings_per_term: int | None = None,
    min_score: float | None = None,
) -> Answer:
    """Answer ``question`` with citations. See :func:`django_rag.generation.ask`."""
    from .generation import ask as _ask

    return _ask(
        question, user=user, collection=collection, history=history, k=k, mode=mode, llm=llm, embedder=embedder,
        queryset=queryset, use_cache=use_cache, options=options, language=language, candidates=candidates,
        rrf_k=rrf_k, weights=weights, postings_per_term=postings_per_term, min_score=min_score,
    )


def stream(
    question: str,
    *,
    user: Asker = None,
    collection: Collection | str | int | None = None,
    history: Sequence[Mapping[str, str]] | None = None,
    k: int | None = None,
    mode: Mode = "hybrid",
    llm: BaseLLM | str = "default",
    embedder: BaseEmbedder | str | None = None,
    queryset: ChunkQuerySet | None = None,
    use_cache: bool = True,
    options: SearchOptions | None = None,
    language: str | None = None,
    candidates: int | None = None,
    rrf_k: float | None = None,
    weights: dict[str, float] | None = None,
    postings_per_term: int | None = None,
    min_score: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream an answer as events. See :func:`django_rag.generation.stream`."""
    from .generation import stream as _stream

    return _stream(
        question, user=user, collection=collection, history=history, k=k, mode=mode, llm=llm, embedder=embedder,
        queryset=queryset, use_cache=use_cache, options=options, language=language, candidates=candidates,
        rrf_k=rrf_k, weights=weights, postings_per_term=postings_per_term, min_score=min_score,
    )


def read_from_primary() -> AbstractContextManager[None]:
    """Read from the primary database for a while. See :func:`django_rag.routing.read_from_primary`."""
    from .routing import read_from_primary as _read_from_primary

    return _read_from_primary()


async def aask(
    question: str,
    *,
    user: Asker = None,
    collection: Collection | str | int | None = None,
    history: Sequence[Mapping[str, str]] | None = None,
    k: int | None = None,
    mode: Mode = "hybrid",
    llm: BaseLLM | str = "default",
    embedder: BaseEmbedder | str | None = None,
    queryset: ChunkQuerySet | None = None,
    use_cache: bool = True,
    options: SearchOptions | None = None,
    language: str | None = None,
    candidates: int | None = None,
    rrf_k: float | None = None,
    weights: dict[str, float] | None = None,
    postings_per_term: int | None = None,
    min_score: float | None = None,
) -> Answer:
    """Async twin of :func:`ask`."""
    from .generation import aask as _aask

    return await _aask(
        question, user=user, collection=collection, history=history, k=k, mode=mode, llm=llm, embedder=embedder,
        queryset=queryset, use_cache=use_cache, options=options, language=language, candidates=candidates,
        rrf_k=rrf_k, weights=weights, postings_per_term=postings_per_term, min_score=min_score,
    )


def evaluate(dataset: Any, **options: Any) -> list[EvalRun]:
    """Score retrieval (and answers) on a dataset; one stored run per mode. See :func:`django_rag.evaluation.evaluate`."""
    from .evaluation.runner import evaluate as _evaluate

    return _evaluate(dataset, **options)


def register(
    model: type[Model],
    *,
    fields: Sequence[str | Callable[[Any], Any]],
    title: Getter = None,
    url: Getter = None,
    collection: Any = None,
    visible_to: Callable[[Any], Q] | None = None,
    format: str = "markdown",
    language: str = "",
) -> Registration:
    """Index a model's instances and keep them indexed. See :func:`django_rag.registry.register`."""
    from .registry import register as _register

    return _register(
        model, fields=fields, title=title, url=url, collection=collection, visible_to=visible_to, format=format,
        language=language,
    )


def unregister(model: type[Model], *, missing_ok: bool = False) -> None:
    """Stop indexing a model registered with :func:`register`. See :func:`django_rag.registry.unregister`."""
    from .registry import unregister as _unregister

    _unregister(model, missing_ok=missing_ok)


def reindex_model(model_or_label: type[Model] | str, progress: Any = None) -> dict[str, int]:
    """Index every instance of a registered model. See :func:`django_rag.registry.reindex_model`."""
    from .registry import reindex_model as _reindex_model

    return _reindex_model(model_or_label, progress=progress)
