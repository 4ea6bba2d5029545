"""``ask()``: retrieve, guard, prompt, generate, cite, cache, log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any, cast

from asgiref.sync import sync_to_async

from .. import validation
from ..conf import get_setting
from ..exceptions import DjangoRAGError
from ..fastpaths import insert_log_row
from ..models import Chunk, Collection, Document, QueryLog
from ..querysets import searchable_chunks
from ..redaction import redact
from ..retrieval import SEARCH_DEFERRED_FIELDS, Mode, SearchOptions, check_mode, resolve_embedder
from . import cache as answer_cache
from .citations import cited_numbers, remove_invalid_citations
from .prompts import answer_messages, condense_messages

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from ..access import Asker
    from ..embedders import BaseEmbedder
    from ..llms import BaseLLM
    from ..querysets import ChunkQuerySet

logger = logging.getLogger("django_rag.generation")

PROMPT_VERSION = "2"  # bump when the default templates change meaning
# A text document's whole text (up to MAX_TEXT_LENGTH) is not needed to cite it; the
# chunk's own content is what the prompt and the reader see.
SOURCE_DEFERRED_FIELDS = ("document__text", *SEARCH_DEFERRED_FIELDS)


@dataclass
class Source:
    """A retrieved chunk as presented to the LLM (and, when cited, to the reader)."""

    number: int
    chunk_id: int
    document_id: int
    title: str
    url: str
    page: int | None
    score: float
    snippet: str
    text: str = field(repr=False)
    chunk: Chunk | None = field(default=None, repr=False, compare=False)
    document: Document | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_chunk(cls, number: int, chunk: Chunk) -> Source:
        document = chunk.document
        metadata = chunk.metadata if isinstance(chunk.metadata, dict) else {}
        page = metadata.get("page")
        # A browser opens a PDF at "#page=3"; a Word file's pages are only where its
        # page breaks were (chunks made before chunks named their format are PDFs' or none).
        url = cls.link(document, page if metadata.get("format", "pdf") == "pdf" else None)
        snippet = chunk.content if len(chunk.content) <= 300 else chunk.content[:297].rsplit(" ", 1)[0] + "…"
        return cls(
            number=number, chunk_id=chunk.pk, document_id=document.pk, title=str(document), url=url, page=page,
            score=float(getattr(chunk, "score", 0.0) or 0.0), snippet=snippet, text=chunk.content,
            chunk=chunk, document=document,
        )

    @staticmethod
    def link(document: Document, page: Any) -> str:
        """The source URL, or the file's serving view (at the page, for a PDF); never the storage's URL."""
        url = document.get_absolute_url()
        if url and page and document.file and not document.source_url:
            url = f"{url}#page={page}"
        return url

    @property
    def source_object(self) -> Any:
        """The model instance the cited document indexes (``django_rag.register``), or ``None``."""
        return self.document.source_object if self.document is not None and self.document.source_type_id else None

    def as_dict(self) -> dict[str, Any]:
        """The plain fields (what the API, the stream and the answer cache carry).

        Not ``dataclasses.asdict``: it deep-copies the chunk and document instances only to
        drop them, which cost /ask more than its retrieval statement.
        """
        return {name: getattr(self, name) for name in _SOURCE_FIELDS}


_SOURCE_FIELDS = tuple(f.name for f in dataclass_fields(Source) if f.name not in ("chunk", "document", "text"))


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Source]
    sources: list[Source]
    standalone_question: str = ""
    usage: dict[str, int] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    cached: bool = False
    no_answer: bool = False
    log_id: int | None = None

    def __str__(self) -> str:
        return self.text


def _validate(question: Any, history: Any) -> tuple[str, list[dict[str, str]]]:
    if not isinstance(question, str):
        raise TypeError(f"question must be a string, not {type(question).__name__}.")
    question = question.replace("\x00", " ").strip()
    if not question:
        raise ValueError("The question is empty.")
    limit = get_setting("MAX_QUESTION_LENGTH")
    if len(question) > limit:
        raise ValueError(f"The question is {len(question)} characters long; the limit is {limit} (MAX_QUESTION_LENGTH).")
    turns = []
    for turn in history or []:
        role, content = (turn.get("role"), turn.get("content")) if isinstance(turn, dict) else (None, None)
        if role not in {"user", "assistant"} or not isinstance(content, str):
            raise ValueError('history must be a list of {"role": "user" | "assistant", "content": str} dicts.')
        turns.append({"role": role, "content": content.replace("\x00", " ")[:limit]})
    return question, turns


def _resolve_collection(collection: Collection | str | int | None, user: Asker) -> Collection | None:
    """The collection named by a slug or id, among those ``user`` may see.

    One the user may not see raises the same ``Collection.DoesNotExist`` as one that
    does not exist, so ``ask()`` cannot be used to probe for private collections.
    """
    if collection is None or isinstance(collection, Collection):
        return collection
    validation.collection_reference(collection)
    lookup = {"pk": collection} if isinstance(collection, int) else {"slug": collection}
    found: Collection | None = None
    if not isinstance(collection, int) or 0 < collection < 2**63:  # bigint: larger ids cannot exist
        found = Collection.objects.visible_to(user).filter(**lookup).first()
    if found is None:
        raise Collection.DoesNotExist(f"No collection {collection!r}.")
    return found


class _Question:
    """One question on its way to an answer: what ask() and stream() share (its
    settings, the standalone question, the timings of each step, the usage)."""

    def __init__(
        self, question: str, *, user: Asker, collection: Collection | str | int | None,
        history: Sequence[Mapping[str, str]] | None, k: int | None, mode: Mode, llm: BaseLLM | str,
        embedder: BaseEmbedder | str | None, queryset: ChunkQuerySet | None, use_cache: bool, search: SearchOptions,
    ) -> None:
        from ..llms import get_llm

        self.started = time.perf_counter()
        self.question, self.history = _validate(question, history)
        check_mode(mode)
        # An option the mode does not take fails before any work (condensing, the cache).
        search.check(mode)
        self.user, self.mode = user, mode
        self.collection = _resolve_collection(collection, user)
        self.k = validation.k_value(get_setting("ANSWER_K") if k is None else k)
        self.llm = get_llm(llm) if isinstance(llm, str) else llm
        self.embedder = resolve_embedder(embedder if embedder is not None else search.embedder)
        self.queryset = queryset
        self.search = search
        self.use_cache = use_cache and answer_cache.get_cache() is not None
        self.timings: dict[str, float] = {}
        self.standalone = self.question
        self.usage: dict[str, int] | None = None
        self._searchable: ChunkQuerySet | None = None

    def record_time(self, name: str, since: float) -> float:
        """Note the milliseconds of step ``name`` since ``since``; returns now, to time the next step."""
        now = time.perf_counter()
        self.timings[name] = round((now - since) * 1000, 3)
        return now

    def condense(self) -> None:
        if not self.history:
            return
        step_started = time.perf_counter()
        if getattr(self.llm, "can_condense", True):
            completion = self.llm.generate(condense_messages(self.question, self.history))
            self.standalone = " ".join(completion.text.split()) or self.question
        else:
            # A backend that cannot rewrite text (the extractive one) searches with the
            # previous question as context, which keeps "and for managers?" on topic.
            previous = [turn["content"] for turn in self.history if turn["role"] == "user"]
            self.standalone = f"{previous[-1]} {self.question}" if previous else self.question
        self.record_time("condense", step_started)

    def cache_key(self) -> str:
        return answer_cache.answer_key(
            question=self.standalone, collection=self.collection.pk if self.collection else None, k=self.k,
            mode=self.mode, llm=self.llm.identity, embedder=self.embedder.identity, search=self._search_key(),
            scope=self.visibility_scope(), prompt=PROMPT_VERSION, index=answer_cache.index_version(),
            no_answer=get_setting("NO_ANSWER_TEXT"),
        )

    def _search_key(self) -> dict[str, Any]:
        """The search options given, as a cache-key part (the embedder is a key part of its own)."""
        given = self.search.given()
        given.pop("embedder", None)
        return given

    def searchable(self) -> ChunkQuerySet:
        """The chunks this user may be answered from: visible, in the collection, in the queryset.

        Built once per question: the access rules query the database to build it, and the
        cache key, the retrieval and a cache hit's re-check all start from it.
        """
        if self._searchable is None:
            self._searchable = searchable_chunks(self.user, collection=self.collection, queryset=self.queryset)
        return self._searchable

    def visibility_scope(self) -> str:
        """What the asker may see, as a cache-key part: the SQL (and parameters) of that filter.

        Two askers share cached answers only when the very same SQL selects their
        chunks, so they see the same rows: all anonymous visitors, all superusers. The
        built-in rules name the user's id, so other users never share. The SQL also
        covers a ``queryset=`` argument, which the other key parts do not.
        """
        sql, params = self.searchable().order_by().values("pk").query.sql_with_params()
        return answer_cache.digest(sql, params)

    def retrieve(self) -> list[Source]:
        chunks = self.searchable()
        # ask() shows k chunks; each leg needs a few times that for fusion to find them,
        # not the 100 a browsing search fetches (what that saves: benchmarks/RESULTS.md).
        options = self.search.fill(candidates=min(max(4 * self.k, 20), get_setting("MAX_CANDIDATES")))
        step_started = time.perf_counter()
        if self.mode != "keyword":
            if options.vector is None:
                options = options.fill(vector=answer_cache.cached_query_vector(self.embedder, self.standalone))
            options = options.fill(embedder=self.embedder)
            step_started = self.record_time("embed", step_started)
        # Sources read their document (title, file, URL), not its collection: joining
        # that too cost a measurable part of a question (benchmarks/RESULTS.md).
        results = chunks.top(self.standalone, self.k, mode=self.mode, options=options)
        self.record_time("retrieve", step_started)
        return [Source.from_chunk(n, chunk) for n, chunk in enumerate(results, start=1)]

    def is_relevant(self, sources: list[Source]) -> bool:
        """False when nothing retrieved is relevant enough to answer from (no LLM call then)."""
        if not sources:
            return False
        min_similarity = get_setting("NO_ANSWER_MIN_SIMILARITY")
        for source in sources:
            chunk = source.chunk
            if getattr(chunk, "keyword_rank", None) is not None:
                return True  # shares at least one meaningful term with the question
            distance = getattr(chunk, "distance", None)
            if distance is not None and 1 - distance >= min_similarity:
                return True
        return False

    def finish(self, text: str, sources: list[Source], *, no_answer: bool = False, cached: bool = False) -> Answer:
        text = remove_invalid_citations(text, len(sources))
        by_number = {s.number: s for s in sources}
        citations = [by_number[n] for n in cited_numbers(text, len(sources))]
        self.timings["total"] = round((time.perf_counter() - self.started) * 1000, 3)
        return Answer(
            question=self.question, text=text, citations=citations, sources=sources,
            standalone_question=self.standalone if self.standalone != self.question else "",
            usage=self.usage, timings=dict(self.timings), cached=cached, no_answer=no_answer,
        )

    def log(self, answer: Answer | None = None, error: str = "") -> int | None:
        if not get_setting("QUERY_LOG"):
            return None
        # A signed-in user is an AUTH_USER_MODEL instance, whatever the caller's code typed it as.
        user = cast("User", self.user) if getattr(self.user, "is_authenticated", False) else None
        entry = QueryLog(
            user=user, collection=self.collection, question=self.question,
            standalone_question=self.standalone if self.standalone != self.question else "",
            answer=answer.text if answer else "",
            cited_chunks=[s.chunk_id for s in answer.citations] if answer else [],
            retrieved_chunks=[s.chunk_id for s in answer.sources] if answer else [],
            llm=self.llm.identity, embed_ms=self.timings.get("embed"), retrieve_ms=self.timings.get("retrieve"),
            generate_ms=self.timings.get("generate"),
            total_ms=round((time.perf_counter() - self.started) * 1000, 3),
            input_tokens=(self.usage or {}).get("input_tokens"), output_tokens=(self.usage or {}).get("output_tokens"),
            cache_hit=bool(answer and answer.cached), no_answer=bool(answer and answer.no_answer),
            error=redact(error, getattr(self.llm, "secrets", ())),
        )
        # Without waiting for the disk: a trace can lose its latest rows in a crash.
        insert_log_row(entry)
        return entry.pk

    def from_cache(self, key: str) -> Answer | None:
        cache = answer_cache.get_cache()
        data = cache.get(key) if cache is not None else None
        if data is None:
            return None
        # Reloaded through the asker's visibility filter: a source made invisible since
        # the answer was cached (visibility edits do not change the index version) turns
        # the hit into a miss rather than a leak.
        chunks = self.searchable().select_related("document").defer(
            *SOURCE_DEFERRED_FIELDS
        ).in_bulk(
            [s["chunk_id"] for s in data["sources"]]
        )
        sources = []
        for s in data["sources"]:
            chunk = chunks.get(s["chunk_id"])
            if chunk is None:  # deleted or hidden since
                return None
            # The link is built again rather than trusted from the cache: one cached
            # before an upgrade, or under another SITE_URL, may point elsewhere.
            s = {**s, "url": Source.link(chunk.document, s.get("page"))}
            sources.append(Source(**s, text=chunk.content, chunk=chunk, document=chunk.document))
        self.usage = None
        return self.finish(data["text"], sources, no_answer=data["no_answer"], cached=True)

    def store(self, key: str, answer: Answer) -> None:
        cache = answer_cache.get_cache()
        if cache is None:  # use_cache is False without one
            return
        cache.set(
            key,
            {"text": answer.text, "no_answer": answer.no_answer, "sources": [s.as_dict() for s in answer.sources]},
            get_setting("ANSWER_CACHE_TIMEOUT"),
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
    """Answer ``question`` from the indexed documents, with citations.

    ``collection`` (a Collection, slug or pk) and ``queryset`` (any Chunk QuerySet)
    narrow what is searched; ``history`` (``[{"role": "user"|"assistant", "content":
    ...}]``) makes it a follow-up question. ``language`` and the numbers after it tune
    the search as in ``QuerySet.hybrid()``, one by one or together as ``options`` (a
    :class:`~django_rag.retrieval.SearchOptions`); one the ``mode`` does not take is a
    ``TypeError``. Raises :class:`~django_rag.exceptions.LLMError` subclasses when the
    provider fails (after logging the failure in ``QueryLog``).
    """
    asking = _Question(
        question, user=user, collection=collection, history=history, k=k, mode=mode, llm=llm,
        embedder=embedder, queryset=queryset, use_cache=use_cache,
        search=(options or SearchOptions()).override(
            language=language, candidates=candidates, rrf_k=rrf_k, weights=weights,
            postings_per_term=postings_per_term, min_score=min_score,
        ),
    )
    try:
        asking.condense()
        key = asking.cache_key() if asking.use_cache else None
        if key and (answer := asking.from_cache(key)):
            answer.log_id = asking.log(answer)
            return answer
        sources = asking.retrieve()
        if not asking.is_relevant(sources):
            answer = asking.finish(get_setting("NO_ANSWER_TEXT"), [], no_answer=True)
        else:
            step_started = time.perf_counter()
            completion = asking.llm.generate(answer_messages(asking.standalone, sources))
            asking.record_time("generate", step_started)
            asking.usage = completion.usage
            answer = asking.finish(completion.text, sources)
        if key:
            asking.store(key, answer)
    except DjangoRAGError as exc:
        asking.log(error=f"{type(exc).__name__}: {exc}")
        raise
    answer.log_id = asking.log(answer)
    _send_answer_generated(answer, user)
    return answer


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
    """Like :func:`ask`, as events: ``{"type": "token", "text"}``... then ``sources``, then ``done``.

    A provider failure ends the stream with ``{"type": "error", "code", "detail"}``.
    """
    asking = _Question(
        question, user=user, collection=collection, history=history, k=k, mode=mode, llm=llm,
        embedder=embedder, queryset=queryset, use_cache=use_cache,
        search=(options or SearchOptions()).override(
            language=language, candidates=candidates, rrf_k=rrf_k, weights=weights,
            postings_per_term=postings_per_term, min_score=min_score,
        ),
    )
    try:
        asking.condense()
        key = asking.cache_key() if asking.use_cache else None
        answer = asking.from_cache(key) if key else None
        if answer is None:
            sources = asking.retrieve()
            if not asking.is_relevant(sources):
                text = get_setting("NO_ANSWER_TEXT")
                yield {"type": "token", "text": text}
                answer = asking.finish(text, [], no_answer=True)
            else:
                step_started = time.perf_counter()
                text_stream = asking.llm.stream(answer_messages(asking.standalone, sources))
                try:
                    for delta in text_stream:
                        yield {"type": "token", "text": delta}
                finally:
                    text_stream.close()  # a client that went away releases the provider connection
                asking.record_time("generate", step_started)
                asking.usage = text_stream.usage
                answer = asking.finish(text_stream.text, sources)
            if key:
                asking.store(key, answer)
        else:
            yield {"type": "token", "text": answer.text}
    except DjangoRAGError as exc:
        asking.log(error=f"{type(exc).__name__}: {exc}")
        yield {"type": "error", "code": getattr(exc, "code", "error"), "detail": str(exc)}
        return
    answer.log_id = asking.log(answer)
    _send_answer_generated(answer, asking.user)
    yield {"type": "sources", "sources": [s.as_dict() for s in answer.citations]}
    yield {"type": "done", "answer": answer}


_ask_in_thread = sync_to_async(ask, thread_sensitive=True)


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
    """Async twin of :func:`ask` (runs it in Django's thread-sensitive executor)."""
    return await _ask_in_thread(
        question, user=user, collection=collection, history=history, k=k, mode=mode, llm=llm, embedder=embedder,
        queryset=queryset, use_cache=use_cache, options=options, language=language, candidates=candidates,
        rrf_k=rrf_k, weights=weights, postings_per_term=postings_per_term, min_score=min_score,
    )


def _send_answer_generated(answer: Answer, user: Any) -> None:
    from ..signals import answer_generated

    answer_generated.send(sender=Answer, answer=answer, user=user)
