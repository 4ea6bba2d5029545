"""QuerySets for documents and chunks.

``ChunkQuerySet`` carries the retrieval API. Its methods are in :class:`RetrievalMixin`
so a site can add them to its own chunk manager or proxy models::

    class MyChunkQuerySet(RetrievalMixin, models.QuerySet): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import models

if TYPE_CHECKING:
    from .access import Asker
    from .embedders import BaseEmbedder
    from .models import Chunk, Collection, Document
    from .retrieval import Mode, SearchOptions

    # The mixins are QuerySet methods: to the type checker they are QuerySets (of the
    # model they are mixed in for, or of chunks), at run time plain classes mixed into one.
    _QuerySetOf = models.QuerySet
    _ChunkQuerySet = models.QuerySet[Chunk, Chunk]
else:
    _QuerySetOf, _ChunkQuerySet = Generic, object

_M = TypeVar("_M", bound=models.Model)


class VisibilityMixin(_QuerySetOf[_M]):
    """``visible_to(user)``: the rows ``user`` may see, as a filter inside the SQL.

    The rules are in :mod:`django_rag.access` (and ``DJANGO_RAG["ACCESS_POLICY"]``).
    On a chunk QuerySet, call it *before* a search so the filter sits inside both
    retrieval legs and a user who may see few rows still gets ``k`` results.
    """

    def visibility_condition(self, user: Asker) -> models.Q:
        raise NotImplementedError("A QuerySet using VisibilityMixin must define visibility_condition(user).")

    def visible_to(self, user: Asker) -> Self:
        condition = self.visibility_condition(user)
        # An empty Q (a superuser) leaves the QuerySet unfiltered, so searches keep
        # their fast, unfiltered path.
        return self.filter(condition) if condition else self.all()


class CollectionQuerySet(VisibilityMixin["Collection"], models.QuerySet["Collection"]):
    def visibility_condition(self, user: Asker) -> models.Q:
        from .access import collection_filter

        return collection_filter(user)


class DocumentQuerySet(VisibilityMixin["Document"], models.QuerySet["Document"]):
    def visibility_condition(self, user: Asker) -> models.Q:
        from .access import document_filter

        return document_filter(user)

    def ready(self) -> Self:
        return self.filter(status="ready")

    def failed(self) -> Self:
        return self.filter(status="failed")

    def stuck(self) -> Self:
        """Documents left ``processing`` by a worker that is gone.

        An ingestion marks its document ``processing`` and takes a lease on it when it
        starts (``INGEST_LEASE_SECONDS``, renewed while it embeds), and ends it ``ready``
        or ``failed`` with the lease cleared. A document still ``processing`` after its
        lease expired lost its worker (killed, or its database connection cut). One
        with no lease (written before leases existed) is stuck after
        ``PROCESSING_TIMEOUT`` seconds without an update. Such documents may be queued
        again: if a worker does still hold one, the advisory lock makes the new task wait.
        """
        from datetime import timedelta

        from django.utils import timezone

        from .conf import get_setting

        now = timezone.now()
        cutoff = now - timedelta(seconds=get_setting("PROCESSING_TIMEOUT"))
        return self.filter(status="processing").filter(
            models.Q(lease_expires_at__lt=now)
            | models.Q(lease_expires_at__isnull=True, updated_at__lt=cutoff)
        )

    def waiting(self, pending_for: float) -> Self:
        """Documents ``pending`` for more than ``pending_for`` seconds since they were last
        saved or queued, with something to ingest: their task may be lost.

        A broker that hands a task to a worker forgets it (django-q2's Redis broker pops
        it from the list): a worker killed after taking tasks from the queue loses the
        ones it had not started, and their documents stay ``pending`` with no lease to
        expire, so :meth:`stuck` cannot see them. A pending document cannot say whether
        its task is still on the queue, so ``pending_for`` must be longer than a task
        normally waits there; a document re-queued too early is only ingested once (the
        second task finds its chunks current). It also takes the documents whose chunks
        were removed by hand (the admin's Remove chunks), which wait, ``pending``, to be
        ingested again.
        """
        from datetime import timedelta

        from django.utils import timezone

        from . import validation

        seconds = validation.number("pending_for", pending_for, minimum=0)
        cutoff = timezone.now() - timedelta(seconds=seconds)
        has_content = ~models.Q(file="") | ~models.Q(text="")
        return self.filter(has_content, status="pending", lease_owner="", updated_at__lt=cutoff)


class RetrievalMixin(_ChunkQuerySet):
    """``semantic()``, ``keyword()`` and ``hybrid()`` for a QuerySet of ``Chunk``.

    Each returns a QuerySet of chunks ordered by ``score`` (best first; equal scores by
    ``best_rank``, then id), with the ``embedding`` and ``search_vector`` columns
    deferred, and annotated with ``score``, ``semantic_rank``, ``keyword_rank``,
    ``distance``, ``keyword_score`` (``None`` for a leg that did not find the chunk) and
    ``best_rank`` (the better of the two ranks). Filters applied
    *before* the call restrict the candidates inside each leg; filters applied after it
    only drop rows from the final list. Slice the result to get the top k.
    """

    def for_embedder(self, embedder: BaseEmbedder | str | None = None) -> Self:
        """Chunks that have a vector of ``embedder`` (an embedder, an alias, or the active one)."""
        from django.db.models.expressions import RawSQL

        from .embedder_state import SIDE_TABLE, in_side_table
        from .retrieval import resolve_embedder

        model = resolve_embedder(embedder)
        if in_side_table(model, self.db):
            return self.filter(pk__in=RawSQL(
                f"SELECT chunk_id FROM {SIDE_TABLE} WHERE embedder = %s AND embedding IS NOT NULL", [model.identity]
            ))
        return self.filter(embedder=model.identity)

    def semantic(
        self,
        query: str | None = None,
        *,
        vector: Sequence[float] | None = None,
        embedder: BaseEmbedder | str | None = None,
        candidates: int | None = None,
        min_score: float | None = None,
    ) -> Self:
        """Nearest chunks by cosine distance (pgvector); ``score`` is ``1 - distance``."""
        from .retrieval import SearchOptions

        options = SearchOptions(vector=vector, embedder=embedder, candidates=candidates, min_score=min_score)
        return self._search(query, options, semantic=True, keyword=False)

    def keyword(
        self,
        query: str,
        *,
        language: str | None = None,
        candidates: int | None = None,
        postings_per_term: int | None = None,
        min_score: float | None = None,
    ) -> Self:
        """Chunks ranked by BM25 over PostgreSQL full text; ``score`` is the BM25 score."""
        from .retrieval import SearchOptions

        options = SearchOptions(
            language=language, candidates=candidates, postings_per_term=postings_per_term, min_score=min_score
        )
        return self._search(query, options, semantic=False, keyword=True)

    def hybrid(
        self,
        query: str,
        *,
        vector: Sequence[float] | None = None,
        embedder: BaseEmbedder | str | None = None,
        language: str | None = None,
        candidates: int | None = None,
        rrf_k: float | None = None,
        weights: dict[str, float] | None = None,
        postings_per_term: int | None = None,
        min_score: float | None = None,
    ) -> Self:
        """Semantic and keyword legs fused with Reciprocal Rank Fusion; ``score`` is the RRF score."""
        from .retrieval import SearchOptions

        options = SearchOptions(
            vector=vector, embedder=embedder, language=language, candidates=candidates, rrf_k=rrf_k,
            weights=weights, postings_per_term=postings_per_term, min_score=min_score,
        )
        return self._search(query, options, semantic=True, keyword=True)

    def _search(self, query: str | None, options: SearchOptions, *, semantic: bool, keyword: bool) -> Self:
        """The QuerySet of a search: :meth:`_ranking`'s statement joined to these rows."""
        from . import retrieval, validation

        min_score = options.min_score
        if min_score is not None:
            min_score = validation.number("min_score", min_score)
        statement = self._ranking(query, options, semantic=semantic, keyword=keyword)
        if statement is None:
            return self.none()
        results: Self = retrieval.attach_ranking(self, *statement, min_score=min_score)
        # Search results are read for their text, not their vectors: loading and parsing
        # 384+ floats and a tsvector per row cost ~15% of a search (benchmarks/RESULTS.md).
        # They still load on access; .defer(None) loads them eagerly.
        return results.defer(*retrieval.SEARCH_DEFERRED_FIELDS)

    def _ranking(
        self,
        query: str | None,
        options: SearchOptions,
        *,
        semantic: bool,
        keyword: bool,
        top: int | None = None,
    ) -> tuple[str, list[Any]] | None:
        """The ranking statement ``(id, score, ...)`` of a search over this QuerySet's rows.

        ``None`` when the search can find nothing (an empty query for the semantic leg,
        a filter that matches nothing). ``top``: only the best ``top`` rows will be read
        (see :func:`django_rag.retrieval.hybrid_sql`).
        """
        from . import retrieval

        model = retrieval.resolve_embedder(options.embedder) if semantic else None
        opts = retrieval.RankingOptions.build(
            candidates=options.candidates, rrf_k=options.rrf_k, weights=options.weights,
            postings_per_term=options.postings_per_term, embedder=model,
        )
        if query is not None and not isinstance(query, str):
            raise TypeError(f"query must be a string, not {type(query).__name__}.")
        query = (query or "").replace("\x00", " ")  # PostgreSQL text cannot hold NUL
        try:
            chunk_filter = retrieval.ChunkFilter.from_queryset(self)
        except EmptyResultSet:  # a filter that can match nothing (pk__in=[], a policy denying all)
            return None
        semantic_part = keyword_part = None
        vector = options.vector
        if model is not None:  # the semantic leg
            if vector is None:
                if not query.strip():
                    return None
                vector = model.validate([model.embed_query(query)], 1)[0]
            if len(vector) != model.dimensions:
                raise ValueError(f"vector has {len(vector)} dimensions; embedder {model.alias!r} makes {model.dimensions}.")
            from .embedder_state import in_side_table

            semantic_part = retrieval.semantic_leg(
                vector, model, opts.candidates, chunk_filter, side_table=in_side_table(model, self.db)
            )
        if keyword:
            keyword_part = retrieval.keyword_leg(
                query, opts.candidates, opts.postings_per_term, options.language, chunk_filter
            )
        return retrieval.hybrid_sql(semantic=semantic_part, keyword=keyword_part, options=opts, top=top)

    def top(
        self,
        query: str | None,
        k: int,
        *,
        mode: Mode = "hybrid",
        collections: bool = False,
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
        """The ``k`` best chunks as a list, their documents loaded, in one statement.

        The chunks ``list(self.<mode>(query, **options).select_related("document")[:k])``
        returns, in the same order, built without the ORM's query compiler, which took a
        third of a question's time in ``ask()`` (benchmarks/RESULTS.md; the fast path is
        :func:`django_rag.fastpaths.fetch_top`). The QuerySet's
        filters apply inside the legs as usual; its other settings (ordering,
        annotations, ``select_related``) do not carry over. ``collections=True`` loads
        each document's collection too. In hybrid mode a leg weighted 0 (the hashing
        embedder's semantic leg, by default) runs only when the other finds fewer than
        ``k`` chunks, since its rows could not be among the ``k`` otherwise; when it does
        not run, ``semantic_rank`` and ``distance`` are ``None``.

        The options are those of the ``mode``'s method (``hybrid()``...), given one by one
        or together as ``options`` (a :class:`~django_rag.retrieval.SearchOptions`; one
        given both ways is taken from the keyword argument). One the mode does not take
        is a ``TypeError``.
        """
        from . import fastpaths, retrieval, validation

        retrieval.check_mode(mode)
        k = validation.k_value(k)
        search = (options or retrieval.SearchOptions()).override(
            vector=vector, embedder=embedder, language=language, candidates=candidates, rrf_k=rrf_k,
            weights=weights, postings_per_term=postings_per_term, min_score=min_score,
        )
        search.check(mode)
        min_score = search.min_score
        if min_score is not None:
            min_score = validation.number("min_score", min_score)
        ranking = self._ranking(query, search, semantic=mode != "keyword", keyword=mode != "semantic", top=k)
        if ranking is None:
            return []
        return fastpaths.fetch_top(self, *ranking, k=k, min_score=min_score, collections=collections)


class ChunkQuerySet(VisibilityMixin["Chunk"], RetrievalMixin, models.QuerySet["Chunk"]):
    def visibility_condition(self, user: Asker) -> models.Q:
        from .access import document_filter
        from .models import Document

        condition = document_filter(user)
        if not condition:
            return condition
        # A subquery over documents rather than the rule rewritten onto document__...
        # paths: a custom ACCESS_POLICY may use expressions (Exists, OuterRef) that
        # cannot be re-rooted.
        return models.Q(document_id__in=Document.objects.filter(condition).values("pk"))


def searchable_chunks(
    user: Asker, *, collection: Collection | str | int | None = None, queryset: ChunkQuerySet | None = None
) -> ChunkQuerySet:
    """The chunks a search for ``user`` may consider: visible ones, in ``collection``, within ``queryset``."""
    from . import validation
    from .models import Chunk, Collection
    from .routing import read_database

    if queryset is None:
        chunks = Chunk.objects.using(read_database())
    elif queryset._db is None:  # type: ignore[attr-defined]  # QuerySet._db: what .using() gave, else None
        chunks = queryset.using(read_database())
    else:
        chunks = queryset
    # Through the condition rather than queryset.visible_to(), so a QuerySet from a
    # site's own chunk manager is filtered too.
    condition = Chunk.objects.visibility_condition(user)
    if condition:
        chunks = chunks.filter(condition)
    if collection is not None:
        if not isinstance(collection, Collection):
            validation.collection_reference(collection)
        if isinstance(collection, Collection):
            chunks = chunks.filter(document__collection=collection)
        elif isinstance(collection, int):
            chunks = chunks.filter(document__collection_id=collection)
        else:
            chunks = chunks.filter(document__collection__slug=collection)
    return chunks
