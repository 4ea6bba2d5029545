"""A LangChain ``VectorStore`` over django-rag's own models.

::

    from django_rag.integrations.langchain import DjangoRAGVectorStore

    store = DjangoRAGVectorStore("handbook")            # a Collection, its slug or its pk
    store.add_texts(["Parental leave is twenty days."], metadatas=[{"team": "hr"}], ids=["leave"])
    store.similarity_search("how long is parental leave?", k=4, filter={"team": "hr"})
    retriever = store.as_retriever(search_kwargs={"k": 4})

How LangChain's concepts map onto the models
--------------------------------------------
- **One LangChain ``Document`` is one django-rag** :class:`~django_rag.models.Document`
  whose ``text`` is the ``page_content`` and whose ``metadata`` is the LangChain
  metadata, plus one reserved key, ``"langchain_id"`` (:data:`ID_KEY`), that holds the
  LangChain id. Ids are strings, unique within the store's collection; a uuid4 is made
  for a document that has none. Adding an id that exists replaces that document's text
  and metadata (an upsert). ``metadata["title"]`` also becomes ``Document.title``, which
  django-rag searches and embeds with every chunk; an ``http(s)`` ``metadata["source"]``
  becomes ``Document.source_url``.
- **Every text goes through** :func:`django_rag.ingestion.ingest`, so it is split,
  embedded, written with ``COPY`` and indexed for BM25 exactly like an uploaded file;
  ``metadata["format"]`` keeps its django-rag meaning (``text``, ``markdown`` or
  ``html``; text is read as Markdown when it is absent). The embedding calls for all
  the texts of one ``add_documents`` call are made first, in batches of
  ``EMBED_BATCH_SIZE`` across documents, before anything is written; then the rows and
  chunks of the whole call are written in one transaction: a failure leaves the store
  as it was.
- **A search returns each document once, whole.** Chunks are ranked by django-rag's
  retrieval (hybrid, semantic or keyword) and mapped back to their documents: a
  document ranks by its best chunk and comes back with the ``page_content``, metadata
  and id it was added with. Chunks are an index, not a new unit: LangChain's contract
  is document-level (``get_by_ids``, ``delete`` and search results speak of the same
  object under the same id), and LangChain users split text before adding it, so a
  typical document is one chunk anyway. A long text is still split for embedding, which
  finds it by its best passage rather than by one vector diluted over its length.
- **Documents that were not added through LangChain** (files uploaded in the admin or
  with ``rag_ingest``, which have no ``langchain_id``) come back as their matching
  chunks: the chunk's content, ``id=None``, and metadata made of the document's
  metadata, the chunk's (``page``, ``section``) and ``document_id``, ``chunk_index``,
  ``title`` and ``source``. Returning a whole 200-page PDF as one result would be useless.

Searching
---------
``mode`` (per store, or per call as a keyword argument) is ``"hybrid"`` (default, the
fused semantic and BM25 legs, django-rag's best quality), ``"semantic"`` or
``"keyword"``. ``similarity_search_by_vector`` and ``max_marginal_relevance_search`` are
always semantic. Other keyword arguments are django-rag's search options
(``candidates``, ``rrf_k``, ``weights``, ``language``, ``postings_per_term``,
``min_score``). ``filter`` is a dict of lookups on the document metadata,
``{"team": "hr", "year__gte": 2020}`` (keys are Django lookups under
``Document.metadata``), or a ``Q`` object on ``Chunk`` fields; either is applied inside
each retrieval leg, before its limit.

Scores: ``similarity_search_with_score`` returns django-rag's ``score``, higher is
better: the RRF score in hybrid mode, cosine similarity (``1 - cosine distance``) in
semantic mode, BM25 in keyword mode. ``similarity_search_with_relevance_scores``
(and retrievers with ``search_type="similarity_score_threshold"``) scale them to
[0, 1]: cosine similarity clipped at 0, or the RRF score divided by the best score
possible (first in both legs); BM25 has no upper bound, so keyword mode has none.

Embeddings
----------
``embedder`` names a ``DJANGO_RAG["EMBEDDERS"]`` alias (``"default"``) or is a
django-rag embedder instance. ``embedding`` takes any LangChain ``Embeddings`` instead;
it is wrapped in :class:`django_rag.embedders.langchain.Embedder`, so its vectors are
checked and stored under an identity (``langchain:<class>[:<model>]:<dimensions>``)
like any other embedder's. Only configured aliases get an HNSW index; configure the
``Embeddings`` class as an alias for a large store. ``store.embeddings`` is a LangChain
``Embeddings`` in both cases.

Async
-----
The ``a*`` methods run the sync ones with ``asgiref``'s ``sync_to_async`` (thread
sensitive), as Django's own async ORM methods do, rather than in LangChain's default
thread pool: under ASGI each call then uses the request's database connection instead
of leaving one open in every pool thread.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.db.models import Q
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from .. import validation
from ..conf import DEFAULT_EMBEDDER_ALIAS, get_setting
from ..embedders import BaseEmbedder, get_embedder
from ..embedders.langchain import Embedder as LangChainEmbeddingsEmbedder
from ..ingestion.extractors import text_formats
from ..ingestion.pipeline import embed_in_batches, ingest, ingest_signature, prepare, read_source, resolve_language
from ..models import Chunk, Collection, Document
from ..querysets import ChunkQuerySet, DocumentQuerySet
from ..retrieval import check_mode
from ..receivers import auto_ingest_paused

#: The key of ``Document.metadata`` that holds the LangChain id.
ID_KEY = "langchain_id"


# pg_advisory_xact_lock(namespace, hashtext(id)) serialises two upserts of one id, so
# they cannot both create a document. django-rag's advisory locks live under
# 0x52414700 ("RAG\0"); the ingestion pipeline's document locks use "RAG\1".
_ID_LOCK_NAMESPACE = 0x52414702  # "RAG\2"

# The Document fields the store writes; everything else is the pipeline's.
_WRITTEN_FIELDS = ("text", "metadata", "title", "source_url", "updated_at")

# The options of each search method; store-wide search_options apply where they fit.
_MODE_OPTIONS = {
    "semantic": frozenset({"candidates", "min_score"}),
    "keyword": frozenset({"candidates", "language", "postings_per_term", "min_score"}),
    "hybrid": frozenset({"candidates", "rrf_k", "weights", "language", "postings_per_term", "min_score"}),
}
_SEARCH_OPTIONS = _MODE_OPTIONS["hybrid"]
# A store is server-side code: unless it is given a user, it searches every document.
_EVERY_DOCUMENT: Any = object()


class DjangoRAGEmbeddings(Embeddings):
    """A django-rag embedder seen as a LangChain ``Embeddings`` (what ``store.embeddings`` returns)."""

    def __init__(self, embedder: BaseEmbedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        texts = list(texts)
        return self.embedder.validate(self.embedder.embed_documents(texts), len(texts)) if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.validate([self.embedder.embed_query(text)], 1)[0]


class _PrefetchedEmbedder(BaseEmbedder):
    """The store's embedder with the vectors of one ``add_documents`` call made in advance.

    ``ingest()`` embeds one document at a time; LangChain callers add many short
    documents, so that would be one provider call per document. The store embeds every
    text it is about to ingest in batches first; ``ingest()`` then finds the vectors
    here. The lookup is by exact text, so if the pipeline ever embeds something the
    store did not foresee, the cost is a call to the real embedder, never a wrong vector.
    """

    def __init__(self, inner: BaseEmbedder, alias: str) -> None:
        super().__init__(alias=alias)
        self.inner = inner
        self.vectors: dict[str, list[float]] = {}

    # Same identity, dimensions and secrets as the real embedder: the chunks it writes
    # must be indistinguishable from the real embedder's.
    @property
    def provider(self) -> str:  # type: ignore[override]
        return self.inner.provider

    @property
    def model_name(self) -> str:  # type: ignore[override]
        return self.inner.model_name

    @property
    def dimensions(self) -> int:  # type: ignore[override]
        return self.inner.dimensions

    @property
    def identity(self) -> str:
        return self.inner.identity

    @property
    def secrets(self) -> list[str]:
        return list(getattr(self.inner, "secrets", ()))

    def prefetch(self, texts: Iterable[str]) -> None:
        missing = list(dict.fromkeys(text for text in texts if text not in self.vectors))
        if missing:
            self.vectors.update(zip(missing, embed_in_batches(self.inner, missing), strict=True))

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.prefetch(texts)
        return [self.vectors[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def _default_model_name(embeddings: Embeddings) -> str:
    """The class path, plus the model when the object names one.

    Two ``OpenAIEmbeddings`` of different models but equal dimensions must not share an
    identity, or the store would compare one model's query vectors with the other's.
    """
    name = f"{type(embeddings).__module__}.{type(embeddings).__qualname__}"
    for attribute in ("model", "model_name"):
        value = getattr(embeddings, attribute, None)
        if isinstance(value, str) and value:
            return f"{name}:{value}"
    return name


def _public_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        return {}
    return {key: value for key, value in metadata.items() if key != ID_KEY}


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def maximal_marginal_relevance(
    query: Sequence[float], candidates: Sequence[Sequence[float]], *, k: int, lambda_mult: float
) -> list[int]:
    """Indexes of ``k`` candidates chosen by MMR (Carbonell and Goldstein, 1998).

    Plain Python, so that django-rag does not need numpy: the candidate lists are
    short (``fetch_k``, 20 by default).
    """
    relevance = [_cosine(query, c) for c in candidates]
    # Each candidate's highest similarity to a chosen one, kept up to date as we choose.
    redundancy = [-math.inf] * len(candidates)
    selected: list[int] = []
    while len(selected) < min(k, len(candidates)):
        remaining = [i for i in range(len(candidates)) if i not in selected]
        if selected:
            best = max(remaining, key=lambda i: lambda_mult * relevance[i] - (1 - lambda_mult) * redundancy[i])
        else:
            best = max(remaining, key=lambda i: relevance[i])
        selected.append(best)
        for i in remaining:
            redundancy[i] = max(redundancy[i], _cosine(candidates[i], candidates[best]))
    return selected


class DjangoRAGVectorStore(VectorStore):
    """A LangChain ``VectorStore`` over one django-rag collection (or all of them).

    ``collection`` is a :class:`~django_rag.models.Collection`, its slug or its primary
    key; a slug that does not exist yet is created on the first write. ``None`` means
    every document: searches and id lookups cover all collections, and new documents
    belong to none. ``user`` limits searches and id lookups to what that user may see
    (see docs/permissions.md; ``None`` is an anonymous visitor); without it the store
    covers every document. See the module documentation for how documents, ids, metadata
    and scores map onto django-rag.
    """

    def __init__(
        self,
        collection: Collection | str | int | None = None,
        *,
        embedder: str | BaseEmbedder = DEFAULT_EMBEDDER_ALIAS,
        embedding: Embeddings | None = None,
        mode: str = "hybrid",
        search_options: dict[str, Any] | None = None,
        using: str = "default",
        user: Any = _EVERY_DOCUMENT,
    ) -> None:
        check_mode(mode)
        if collection is not None and not isinstance(collection, (Collection, str, int)):
            raise TypeError(
                f"collection must be a Collection, a slug or a primary key, not {type(collection).__name__}."
            )
        unknown = set(search_options or {}) - _SEARCH_OPTIONS
        if unknown:
            raise TypeError(f"Unknown search option(s) {sorted(unknown)}; expected some of {sorted(_SEARCH_OPTIONS)}.")
        self.collection = collection
        self.mode = mode
        self.search_options = dict(search_options or {})
        self.using = using
        self.user = user
        self._embedding = embedding
        if embedding is not None:
            if embedder != DEFAULT_EMBEDDER_ALIAS:
                raise TypeError("Pass either embedder (a django-rag alias or embedder) or embedding, not both.")
            embedder = LangChainEmbeddingsEmbedder(
                alias="langchain", embeddings=embedding, model_name=_default_model_name(embedding)
            )
        elif not isinstance(embedder, (str, BaseEmbedder)):
            raise TypeError(
                f"embedder must be an alias of DJANGO_RAG['EMBEDDERS'] or a django-rag embedder, not "
                f"{type(embedder).__name__}; pass a LangChain Embeddings as embedding=."
            )
        self._embedder = embedder

    # -- configuration ----------------------------------------------------------------

    @property
    def embedder(self) -> BaseEmbedder:
        """The django-rag embedder (an alias is looked up on each use, so settings changes apply)."""
        return get_embedder(self._embedder) if isinstance(self._embedder, str) else self._embedder

    @property
    def embeddings(self) -> Embeddings:
        if self._embedding is not None:
            return self._embedding
        return DjangoRAGEmbeddings(self.embedder)

    def _collection_q(self, prefix: str = "") -> Q:
        ref = self.collection
        if ref is None:
            return Q()
        if isinstance(ref, Collection):
            return Q(**{f"{prefix}collection_id": ref.pk})
        if isinstance(ref, int):
            return Q(**{f"{prefix}collection_id": ref})
        return Q(**{f"{prefix}collection__slug": ref})

    def _collection_for_write(self) -> Collection | None:
        ref = self.collection
        if ref is None or isinstance(ref, Collection):
            return ref
        if isinstance(ref, int):
            return Collection.objects.using(self.using).get(pk=ref)
        collection, _ = Collection.objects.using(self.using).get_or_create(slug=ref, defaults={"name": ref})
        return collection

    def _documents(self) -> DocumentQuerySet:
        return Document.objects.using(self.using).filter(self._collection_q())

    def _documents_by_id(self, ids: Sequence[str]) -> DocumentQuerySet:
        return self._documents().filter(**{f"metadata__{ID_KEY}__in": list(ids)}).order_by()

    # -- writing ----------------------------------------------------------------------

    def add_documents(self, documents: list[LCDocument], **kwargs: Any) -> list[str]:
        """Add or replace documents; returns their ids (``ids=`` wins over ``Document.id``)."""
        ids = kwargs.pop("ids", None)
        if kwargs:
            raise TypeError(f"Unexpected keyword argument(s) {sorted(kwargs)}.")
        documents = list(documents)
        if ids is None:
            ids = [document.id for document in documents]
        ids = list(ids)
        if len(ids) != len(documents):
            raise ValueError(f"Got {len(ids)} ids for {len(documents)} documents.")
        ids = [str(uuid.uuid4()) if id_ is None else id_ for id_ in ids]
        for position, (document, id_) in enumerate(zip(documents, ids)):
            self._validate(position, document, id_)
        if not documents:
            return []
        # The last document wins when one call repeats an id, as a dict would.
        latest = {id_: document for id_, document in zip(ids, documents)}
        self._write(latest)
        return ids

    @staticmethod
    def _validate(position: int, document: LCDocument, id_: Any) -> None:
        where = f"Document {position}"
        if not isinstance(id_, str) or not id_:
            raise ValueError(f"{where}: ids must be non-empty strings, not {id_!r}.")
        if not isinstance(document.page_content, str) or not document.page_content.strip():
            raise ValueError(f"{where} (id {id_!r}) has no text: django-rag cannot index empty page_content.")
        if "\x00" in document.page_content:
            raise ValueError(f"{where} (id {id_!r}) contains NUL characters, which PostgreSQL text cannot store.")
        metadata = document.metadata
        if not isinstance(metadata, dict):
            raise ValueError(f"{where} (id {id_!r}): metadata must be a dict.")
        if ID_KEY in metadata:
            raise ValueError(f"{where} (id {id_!r}): the metadata key {ID_KEY!r} is reserved for the LangChain id.")
        fmt = metadata.get("format")
        if fmt is not None and fmt not in text_formats():
            raise ValueError(
                f"{where} (id {id_!r}): metadata['format'] tells django-rag how to read the text and must be "
                f"one of {', '.join(map(repr, text_formats()))}, not {fmt!r}; store that value under another key."
            )
        try:
            json.dumps(metadata, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where} (id {id_!r}): metadata must be JSON-serialisable: {exc}") from exc

    @staticmethod
    def _fill(row: Document, id_: str, document: LCDocument) -> None:
        metadata = dict(document.metadata)
        row.text = document.page_content
        row.metadata = {ID_KEY: id_, **metadata}
        title = metadata.get("title")
        row.title = title[: Document._meta.get_field("title").max_length] if isinstance(title, str) else ""
        source = metadata.get("source")
        max_url = Document._meta.get_field("source_url").max_length
        assert max_url is not None  # a URLField (2000)
        row.source_url = (
            source if isinstance(source, str) and source.startswith(("http://", "https://")) and len(source) <= max_url
            else ""
        )

    def _write(self, documents: dict[str, LCDocument]) -> None:
        embedder = _PrefetchedEmbedder(self.embedder, alias=f"django_rag.integrations.langchain.{uuid.uuid4().hex}")
        collection = self._collection_for_write()
        existing = {
            row.metadata[ID_KEY]: row for row in self._documents_by_id(list(documents)).select_related("collection")
        }
        rows: list[Document] = []
        for id_, document in documents.items():
            row = existing.get(id_) or Document(collection=collection)
            self._fill(row, id_, document)
            rows.append(row)
        # Embed first, outside any transaction: provider calls are slow and may fail.
        embedder.prefetch(text for row in rows for text in self._embedding_texts(row, embedder))
        # The store ingests what it saves, with its own embedder: no second ingestion on save.
        with transaction.atomic(using=self.using), auto_ingest_paused():
            with connections[self.using].cursor() as cursor:
                for id_ in sorted(documents):
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_ID_LOCK_NAMESPACE, id_])
            # Read again under the locks: a concurrent call may have created one.
            locked = self._documents_by_id(list(documents)).only("metadata")
            current = {row.metadata[ID_KEY]: row.pk for row in locked}
            for id_, row in zip(documents, rows):
                pk = current.get(id_)
                if pk is None:
                    if row.pk is not None:  # deleted since we read it: add it afresh
                        row = Document(collection=collection)
                        self._fill(row, id_, documents[id_])
                    row.save(using=self.using)
                else:
                    # Only the fields the store owns: status and signature are ingest()'s,
                    # and ingest() reads them from the database, not from this instance.
                    row.pk, row._state.adding = pk, False
                    row.save(using=self.using, update_fields=_WRITTEN_FIELDS)
                ingest(row, embedder=embedder, raise_errors=True, using=self.using)

    def _embedding_texts(self, row: Document, embedder: BaseEmbedder) -> list[str]:
        """What :func:`ingest` will embed for ``row``; nothing when its chunks are current."""
        data, name, fmt = read_source(row)
        if row.pk and row.ingest_signature == ingest_signature(
            hashlib.sha256(data).hexdigest(), embedder, resolve_language(row), row.title, format=fmt, name=name
        ):
            return []
        # The pipeline's own stage; bad text (too long, binary) raises here, before anything is written.
        return prepare(data, name=name, format=fmt, title=row.title, embedder=embedder).embedding_texts

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete the documents with these ids (and their chunks); unknown ids are ignored."""
        if kwargs:
            raise TypeError(f"Unexpected keyword argument(s) {sorted(kwargs)}.")
        if ids is None:
            raise ValueError(
                "Pass the ids to delete. To empty a collection, delete its documents with the ORM: "
                "Document.objects.filter(collection=...).delete()."
            )
        if ids:
            self._documents_by_id(ids).delete()
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        """The documents with these ids, in the order asked; unknown ids are left out."""
        rows = self._documents_by_id(ids)
        if self.user is not _EVERY_DOCUMENT:
            rows = rows.visible_to(self.user)
        found = {row.metadata[ID_KEY]: row for row in rows.only("text", "metadata")}
        return [self._to_langchain(found[id_]) for id_ in dict.fromkeys(ids) if id_ in found]

    @staticmethod
    def _to_langchain(row: Document) -> LCDocument:
        return LCDocument(id=row.metadata[ID_KEY], page_content=row.text, metadata=_public_metadata(row.metadata))

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> DjangoRAGVectorStore:
        """A store (``collection=``, ``embedder=`` or ``mode=`` in ``kwargs``) with these texts added.

        ``embedding`` is a LangChain ``Embeddings``, or ``None`` for the ``embedder`` alias.
        """
        store = cls(embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    # -- searching --------------------------------------------------------------------

    def _chunks(self, filter: dict[str, Any] | Q | None) -> ChunkQuerySet:
        chunks = Chunk.objects.using(self.using).filter(self._collection_q("document__"))
        if self.user is not _EVERY_DOCUMENT:
            chunks = chunks.visible_to(self.user)
        if filter is None:
            return chunks
        if isinstance(filter, Q):
            return chunks.filter(filter)
        if not isinstance(filter, dict):
            raise TypeError(f"filter must be a dict of metadata lookups or a Q object, not {type(filter).__name__}.")
        for key, value in filter.items():
            operator = isinstance(value, dict) and any(str(name).startswith("$") for name in value)
            if not isinstance(key, str) or not key or key.startswith("$") or operator:
                # LangChain's operator dialect ({"year": {"$gte": 2020}}) would otherwise
                # be compared as a literal JSON value and silently match nothing.
                raise ValueError(
                    f"filter keys are Django lookups under Document.metadata ({{'year__gte': 2020}}); "
                    f"{key!r}: {value!r} is not one. For anything else pass a Q object."
                )
        return chunks.filter(**{f"document__metadata__{key}": value for key, value in filter.items()})

    def _search(
        self,
        query: str | None,
        k: int,
        *,
        mode: str | None = None,
        vector: Sequence[float] | None = None,
        filter: dict[str, Any] | Q | None = None,
        with_embeddings: bool = False,
        **options: Any,
    ) -> list[tuple[LCDocument, float, Chunk]]:
        """``(document, score, best chunk)`` for the ``k`` best results, best first."""
        mode = mode or self.mode
        check_mode(mode)
        k = validation.k_value(k)
        unknown = set(options) - _MODE_OPTIONS[mode]
        if unknown:
            raise TypeError(
                f"Unexpected search argument(s) {sorted(unknown)} for mode {mode!r}; "
                f"it takes {sorted(_MODE_OPTIONS[mode])}."
            )
        defaults = {key: value for key, value in self.search_options.items() if key in _MODE_OPTIONS[mode]}
        options = {**defaults, **options}
        # Each leg returns `candidates` chunks; fewer than k would cap the results.
        candidates = options.get("candidates")
        if candidates is not None:  # checked before it is compared (RankingOptions checks the rest)
            validation.integer("candidates", candidates, maximum=get_setting("MAX_CANDIDATES"), setting="MAX_CANDIDATES")
        options["candidates"] = max(candidates or get_setting("CANDIDATES"), k)
        if mode != "keyword":
            options["embedder"] = self.embedder
            if vector is not None:
                options["vector"] = vector
        else:
            if query is None:
                raise ValueError("A keyword search needs a query text.")
        chunks = getattr(self._chunks(filter), mode)(query, **options).select_related("document")
        chunks = chunks.defer("search_vector", "document__text")
        if not with_embeddings:
            chunks = chunks.defer("embedding")
        return self._collect(chunks, k)

    def _collect(self, chunks: Any, k: int) -> list[tuple[LCDocument, float, Chunk]]:
        picked: list[tuple[Chunk, bool]] = []  # (chunk, is a LangChain document)
        seen: set[int] = set()
        offset, page = 0, max(2 * k, 10)
        while len(picked) < k:
            rows = list(chunks[offset : offset + page])
            for chunk in rows:
                is_langchain = isinstance(chunk.document.metadata, dict) and ID_KEY in chunk.document.metadata
                if is_langchain:
                    if chunk.document_id in seen:
                        continue  # the document is already in, with a better chunk
                    seen.add(chunk.document_id)
                picked.append((chunk, is_langchain))
                if len(picked) == k:
                    break
            if len(rows) < page:
                break
            offset, page = offset + page, page * 2
        texts = dict(
            Document.objects.using(self.using)
            .filter(pk__in=[chunk.document_id for chunk, is_langchain in picked if is_langchain])
            .values_list("pk", "text")
        )
        results = []
        for chunk, is_langchain in picked:
            document = chunk.document
            if is_langchain:
                result = LCDocument(
                    id=document.metadata[ID_KEY],
                    page_content=texts[document.pk],
                    metadata=_public_metadata(document.metadata),
                )
            else:
                metadata = {**_public_metadata(document.metadata), **(chunk.metadata or {})}
                metadata.update(document_id=document.pk, chunk_index=chunk.index, title=document.title)
                # The serving view's URL, else the uploaded name: never the storage path.
                metadata["source"] = document.get_absolute_url() or document.file_name
                result = LCDocument(page_content=chunk.content, metadata=metadata)
            results.append((result, chunk.score, chunk))
        return results

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[LCDocument]:
        return [document for document, _, _ in self._search(query, k, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[LCDocument, float]]:
        """Documents with django-rag's ``score``, higher is better (RRF, cosine similarity or BM25 by mode)."""
        return [(document, score) for document, score, _ in self._search(query, k, **kwargs)]

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[LCDocument]:
        kwargs["mode"] = "semantic"
        return [document for document, _, _ in self._search(None, k, vector=embedding, **kwargs)]

    def _relevance(self, mode: str, options: dict[str, Any]) -> Callable[[float], float]:
        if mode == "semantic":
            return lambda score: min(max(score, 0.0), 1.0)
        if mode == "hybrid":
            from ..retrieval import RankingOptions

            opts = RankingOptions.build(
                rrf_k=options.get("rrf_k", self.search_options.get("rrf_k")),
                weights=options.get("weights", self.search_options.get("weights")),
                embedder=self.embedder,  # the same default weights the search used
            )
            best = opts.semantic_weight / (opts.rrf_k + 1) + opts.keyword_weight / (opts.rrf_k + 1)
            return lambda score: min(score / best, 1.0) if best > 0 else 0.0
        raise NotImplementedError(
            "Keyword mode has no relevance scores: BM25 scores have no upper bound to scale them by. "
            "Use similarity_search_with_score, or mode='hybrid' or 'semantic'."
        )

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        relevance = self._relevance(kwargs.get("mode") or self.mode, kwargs)
        return [(document, relevance(score)) for document, score, _ in self._search(query, k, **kwargs)]

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[LCDocument]:
        return self.max_marginal_relevance_search_by_vector(
            self.embedder.embed_query(query), k, fetch_k, lambda_mult, **kwargs
        )

    def max_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[LCDocument]:
        """Semantic candidates (``fetch_k``), re-ranked for diversity by their best chunk's vector."""
        k, fetch_k = validation.k_value(k), validation.k_value(fetch_k, name="fetch_k")
        lambda_mult = validation.number("lambda_mult", lambda_mult, minimum=0, maximum=1)
        kwargs["mode"] = "semantic"
        candidates = self._search(None, max(fetch_k, k), vector=embedding, with_embeddings=True, **kwargs)
        chosen = maximal_marginal_relevance(
            embedding, [list(chunk.embedding) for _, _, chunk in candidates], k=k, lambda_mult=lambda_mult
        )
        return [candidates[i][0] for i in chosen]

    # -- async: Django's way, not LangChain's thread pool ------------------------------

    async def aadd_documents(self, documents: list[LCDocument], **kwargs: Any) -> list[str]:
        return await sync_to_async(self.add_documents)(documents, **kwargs)

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        return await sync_to_async(self.delete)(ids, **kwargs)

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        return await sync_to_async(self.get_by_ids)(ids)

    async def asimilarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[LCDocument]:
        return await sync_to_async(self.similarity_search)(query, k, **kwargs)

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        return await sync_to_async(self.similarity_search_with_score)(query, k, **kwargs)

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        return await sync_to_async(self._similarity_search_with_relevance_scores)(query, k, **kwargs)

    async def asimilarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[LCDocument]:
        return await sync_to_async(self.similarity_search_by_vector)(embedding, k, **kwargs)

    async def amax_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[LCDocument]:
        return await sync_to_async(self.max_marginal_relevance_search)(query, k, fetch_k, lambda_mult, **kwargs)

    async def amax_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[LCDocument]:
        return await sync_to_async(self.max_marginal_relevance_search_by_vector)(
            embedding, k, fetch_k, lambda_mult, **kwargs
        )

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> DjangoRAGVectorStore:
        return await sync_to_async(cls.from_texts)(texts, embedding, metadatas, ids=ids, **kwargs)


__all__ = ["ID_KEY", "DjangoRAGEmbeddings", "DjangoRAGVectorStore", "maximal_marginal_relevance"]
