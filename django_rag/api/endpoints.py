"""The router's operations. Every one acts as the caller: documents, collections and
chunks come from ``visible_to(user)``, and a document the caller may not see is 404,
exactly like one that does not exist."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Count, Q
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from ninja import Router, Status, UploadedFile

# The parameter functions themselves: ninja.Query and friends are the same functions at
# run time, but to a type checker generic Annotated[...] aliases (for Query[int]-style
# annotations). Their "examples" are typed as a dict, yet ninja passes them to pydantic
# and JSON Schema, whose examples are a list: those lines ignore arg-type.
from ninja.params.functions import File, Form, Query
from ninja.params.functions import Path as PathParam

from .. import tasks
from ..conf import get_setting
from ..exceptions import DjangoRAGError, UnsupportedFileType
from ..files import absolute_url
from ..ingestion.extractors import content_types, detect_format
from ..models import Collection, Document
from ..receivers import auto_ingest_paused
from ..routing import read_database
from .auth import caller, default_auth
from .errors import STATUS_BY_FAILURE_CODE, ApiError, error_codes, error_response, logger, mapped_errors
from .schemas import (
    MAX_K,
    AnswerOut,
    AskIn,
    CollectionOut,
    DocumentListOut,
    DocumentOut,
    ErrorOut,
    Mode,
    SearchResultOut,
    Text,
)
from .throttling import default_throttle, failed_auth_throttle

router = Router(auth=default_auth(), throttle=default_throttle(), tags=["RAG"])
router.add_decorator(error_codes, mode="view")
router.add_decorator(failed_auth_throttle, mode="view")
router.add_decorator(mapped_errors, mode="operation")

MAX_ID = 2**63 - 1  # bigint: larger ids cannot exist, and PostgreSQL refuses them
MAX_OFFSET = 2**31 - 1
# Declared types an upload may have when its name's extension is not one we know.
# stream() reports a provider failure (embedder or LLM) as an event carrying the error's code.
STATUS_BY_LLM_CODE = STATUS_BY_FAILURE_CODE

# What every authenticated operation may answer besides its success.
COMMON_ERRORS: dict[int, Any] = {401: ErrorOut, 422: ErrorOut, 429: ErrorOut}
READ_ERRORS = {**COMMON_ERRORS, 400: ErrorOut, 404: ErrorOut}
ASK_ERRORS = {**READ_ERRORS, 502: ErrorOut, 503: ErrorOut, 504: ErrorOut}
WRITE_ERRORS = {**READ_ERRORS, 403: ErrorOut}


def enqueue_ingestion(document_id: int, *, force: bool = False) -> None:
    """Ingest a document once the current transaction commits (the one place the API queues work)."""
    tasks.queue_ingestion(document_id, force=force)


def _collection(user: Any, slug: str | None) -> Collection | None:
    if slug is None:
        return None
    collection = Collection.objects.visible_to(user).filter(slug=slug).first()
    if collection is None:
        raise ApiError(404, f"No collection {slug!r}.", "collection_not_found")
    return collection


def _document(user: Any, document_id: int) -> Document:
    document = Document.objects.visible_to(user).select_related("collection").filter(pk=document_id).first()
    if document is None:
        raise ApiError(404, "No such document.", "document_not_found")
    return document


def _require(user: Any, permission: str) -> None:
    if not user.has_perm(f"django_rag.{permission}"):
        raise ApiError(403, f"You need the django_rag.{permission} permission.")


def _score(value: Any) -> float:
    # pgvector's cosine distance to an all-zero vector (what the hashing embedder makes
    # of a text with no words) is NaN, which JSON cannot carry: such a match scores 0.
    score = float(value or 0.0)
    return score if math.isfinite(score) else 0.0


def _source_out(source: Any, request: HttpRequest) -> dict[str, Any]:
    data = source.as_dict() if not isinstance(source, dict) else dict(source)
    return {**data, "score": _score(data.get("score")), "url": absolute_url(data.get("url") or "", request)}


def _document_out(document: Document, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": document.pk, "title": str(document), "status": document.status, "error": document.error,
        "collection": document.collection.slug if document.collection else None,
        # The uploaded name only: the storage path is never shown (docs/security.md).
        "file": document.file_name or None,
        "file_url": absolute_url(document.file.url, request) if document.file else None,
        "source_url": document.source_url, "language": document.language,
        "chunk_count": document.chunk_count, "created_at": document.created_at,
        "updated_at": document.updated_at, "ingested_at": document.ingested_at,
    }


@router.post("/ask", response={200: AnswerOut, **ASK_ERRORS}, summary="Answer a question with citations")
def ask(request: HttpRequest, payload: AskIn) -> dict[str, Any]:
    """Retrieve the best chunks the caller may see and answer from them, citing them as [n]."""
    import django_rag

    user = caller(request)
    try:
        answer = django_rag.ask(
            payload.question, user=user, collection=_collection(user, payload.collection),
            history=[turn.model_dump() for turn in payload.history], k=payload.k, mode=payload.mode,
        )
    except ValueError as exc:  # a question over MAX_QUESTION_LENGTH, a bad history
        raise ApiError(400, str(exc)) from exc
    return {
        "question": answer.question, "answer": answer.text,
        "citations": [_source_out(s, request) for s in answer.citations],
        "sources": [_source_out(s, request) for s in answer.sources],
        "standalone_question": answer.standalone_question, "no_answer": answer.no_answer, "cached": answer.cached,
    }


STREAM_DESCRIPTION = """Server-Sent Events: `token` events (`{"text": "..."}`) as the answer is written, then one
`sources` event (`{"sources": [...]}`, the cited sources), then `done` (`{"no_answer": false, "cached":
false}`). A provider failure after the stream has started ends it with an `error` event (`{"code",
"detail"}`); errors found before it starts are ordinary JSON error responses."""


@router.post(
    "/ask/stream",
    response={200: None, **ASK_ERRORS},
    summary="Stream an answer as Server-Sent Events",
    description=STREAM_DESCRIPTION,
    openapi_extra={
        "responses": {
            200: {
                "description": "An event stream.",
                "content": {
                    "text/event-stream": {
                        # One event: its name and its data (a JSON object, as text).
                        "schema": {
                            "type": "object",
                            "properties": {
                                "event": {"type": "string", "enum": ["token", "sources", "done", "error"]},
                                "data": {"type": "string", "contentMediaType": "application/json"},
                            },
                            "required": ["event", "data"],
                        },
                        "example": 'event: token\ndata: {"text": "You get"}\n\nevent: sources\n'
                        'data: {"sources": []}\n\nevent: done\ndata: {"no_answer": false, "cached": false}\n\n',
                    }
                },
            }
        }
    },
)
def ask_stream(request: HttpRequest, payload: AskIn) -> HttpResponseBase:
    import django_rag

    user = caller(request)
    events = django_rag.stream(
        payload.question, user=user, collection=_collection(user, payload.collection),
        history=[turn.model_dump() for turn in payload.history], k=payload.k, mode=payload.mode,
    )
    try:
        # The question is validated when the generator starts: fail before the 200.
        first = next(events)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    except StopIteration:  # pragma: no cover - stream() always yields
        first = {"type": "done"}
    if first["type"] == "error":  # the provider failed before the first token: nothing sent yet
        status, detail = STATUS_BY_LLM_CODE.get(first["code"], (502, "The answer could not be completed."))
        logger.warning("Answered HTTP %s (%s): %s", status, first["code"], first.get("detail", ""))
        return error_response(status, detail, first["code"])
    response = StreamingHttpResponse(_sse(first, events, request), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on as it comes
    return response


def _sse(first: dict[str, Any], events: Iterator[dict[str, Any]], request: HttpRequest) -> Iterator[str]:
    def encode(event: dict[str, Any]) -> str:
        kind = event.pop("type")
        if kind == "done":
            answer = event.pop("answer", None)
            event = {"no_answer": bool(answer and answer.no_answer), "cached": bool(answer and answer.cached)}
        elif kind == "sources":
            event = {"sources": [_source_out(source, request) for source in event["sources"]]}
        elif kind == "error":
            # stream() ends with this event on a provider failure; its message may name
            # the provider, so the client gets the same wording as a JSON error would.
            code = event.get("code", "error")
            _status, detail = STATUS_BY_LLM_CODE.get(code, (502, "The answer could not be completed."))
            event = {"code": code, "detail": detail}
        return f"event: {kind}\ndata: {json.dumps(event)}\n\n"

    yield encode(first)
    try:
        for event in events:
            yield encode(event)
    except DjangoRAGError:  # not an LLM failure (those come as events): end cleanly
        yield encode({"type": "error", "code": "error"})
    except (OperationalError, InterfaceError):  # the database went away mid-answer
        logger.warning("The database failed during a streamed answer.", exc_info=True)
        yield encode({"type": "error", "code": "database_unavailable"})


@router.get("/search", response={200: list[SearchResultOut], **ASK_ERRORS}, summary="Search the chunks")
def search(
    request: HttpRequest,
    q: Text = Query(..., min_length=1, max_length=10_000, description="The query.", examples=["parental leave"]),  # type: ignore[arg-type]
    k: int = Query(5, ge=1, le=MAX_K),
    mode: Mode = Query("hybrid"),
    collection: Text | None = Query(None, max_length=200, description="A collection's slug."),
) -> list[dict[str, Any]]:
    """The ``k`` best chunks for ``q`` among those the caller may see."""
    import django_rag

    user = caller(request)
    try:
        chunks = django_rag.search(q, user=user, k=k, mode=mode, collection=_collection(user, collection))
    except ValueError as exc:  # k within the schema's bound but above DJANGO_RAG["MAX_K"]
        raise ApiError(400, str(exc)) from exc
    return [
        {
            "chunk_id": chunk.pk, "document_id": chunk.document_id, "document_title": str(chunk.document),
            "collection": chunk.document.collection.slug if chunk.document.collection else None,
            "content": chunk.content, "score": _score(chunk.score),
            "url": absolute_url(chunk.document.get_absolute_url(), request),
            "metadata": chunk.metadata if isinstance(chunk.metadata, dict) else {},
        }
        for chunk in chunks
    ]


@router.get("/documents", response={200: DocumentListOut, **READ_ERRORS}, summary="List documents")
def list_documents(
    request: HttpRequest,
    collection: Text | None = Query(None, max_length=200, description="A collection's slug."),
    status: Document.Status | None = Query(None),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    user = caller(request)
    documents = Document.objects.using(read_database(Document)).visible_to(user).select_related("collection")
    if collection is not None:
        documents = documents.filter(collection=_collection(user, collection))
    if status is not None:
        documents = documents.filter(status=status)
    return {"count": documents.count(), "items": [_document_out(d, request) for d in documents[offset : offset + limit]]}


@router.post(
    "/documents",
    response={202: DocumentOut, 413: ErrorOut, 415: ErrorOut, **WRITE_ERRORS},
    summary="Upload a document (ingested in the background)",
)
def create_document(
    request: HttpRequest,
    file: UploadedFile = File(None, description="PDF, Word, CSV, text, Markdown or HTML."),
    title: Text = Form("", max_length=500, examples=["Leave policy"]),  # type: ignore[arg-type]
    text: Text = Form("", description="The document itself, when there is no file (Markdown)."),
    collection: Text = Form("", max_length=200, description="A collection's slug.", examples=["handbook"]),  # type: ignore[arg-type]
    source_url: Text = Form("", max_length=2000, examples=["https://intranet.example.com/leave"]),  # type: ignore[arg-type]
    language: Text = Form("", max_length=63, description="PostgreSQL text search configuration.", examples=["english"]),  # type: ignore[arg-type]
) -> Status[dict[str, Any]]:
    """A file (PDF, Word, CSV, text, Markdown, HTML: by its extension, or its Content-Type when it has
    none) or a ``text`` field; answers 202 and ingests it after the response."""
    user = caller(request)
    _require(user, "add_document")
    if (file is None) == (text == ""):
        raise ApiError(400, "Send either a file or a text field, not both.", "file_or_text")
    if source_url:
        try:
            URLValidator()(source_url)
        except DjangoValidationError:
            raise ApiError(400, "source_url is not a valid URL.") from None
    if file is not None:
        limit = get_setting("MAX_FILE_SIZE")
        if file.size > limit:
            raise ApiError(413, f"The file is {file.size} bytes; the limit is {limit} (MAX_FILE_SIZE).")
        name = _upload_name(file)
        file.seek(0)
    document = Document(
        title=title[:500], text=text if file is None else "", source_url=source_url, language=language,
        collection=_collection(user, collection or None), owner=user if getattr(user, "is_authenticated", False) else None,
    )
    # The API queues the ingestion itself (202 means queued), so the save receivers
    # (INGEST_ON_SAVE) must not queue a second one.
    with transaction.atomic(), auto_ingest_paused():
        if file is not None:
            document.file.save(name, file, save=False)
        document.save()
        enqueue_ingestion(document.pk)
    document.refresh_from_db()
    return Status(202, _document_out(document, request))


def _upload_name(file: UploadedFile) -> str:
    """The name to store an upload under: its own when its type is known from its content or
    extension; a name without an extension gets one from the declared Content-Type
    (``notes`` sent as text/markdown is stored as ``notes.md``)."""
    name = file.name or "upload"
    try:
        detect_format(name, file.read(1024))
        return name
    except UnsupportedFileType as exc:
        content_type = (file.content_type or "").split(";")[0].strip().lower()
        # Each extractor declares its content types (ingestion/extractors/).
        suffix = content_types().get(content_type)
        # Only a name without an extension is typed by the declared type: "setup.exe"
        # sent as text/plain is still refused.
        if suffix is None or PurePath(name).suffix:
            raise ApiError(415, str(exc)) from exc
        return f"{PurePath(name).stem or 'upload'}{suffix}"


DocumentId = PathParam(..., ge=1, le=MAX_ID, examples=[42])  # type: ignore[arg-type]


@router.get("/documents/{document_id}", response={200: DocumentOut, **READ_ERRORS}, summary="Get a document")
def get_document(request: HttpRequest, document_id: int = DocumentId) -> dict[str, Any]:
    return _document_out(_document(caller(request), document_id), request)


@router.delete("/documents/{document_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a document")
def delete_document(request: HttpRequest, document_id: int = DocumentId) -> Status[None]:
    user = caller(request)
    document = _document(user, document_id)
    _require(user, "delete_document")
    file = document.file
    with transaction.atomic():
        document.delete()
        if file:
            name = file.name or ""  # set: the field holds a file
            # Only once the row is gone for good: a rolled-back delete keeps its file.
            transaction.on_commit(lambda: file.storage.delete(name))
    return Status(204, None)


@router.post(
    "/documents/{document_id}/reingest",
    response={202: DocumentOut, **WRITE_ERRORS},
    summary="Ingest a document again",
)
def reingest_document(request: HttpRequest, document_id: int = DocumentId) -> Status[dict[str, Any]]:
    """Re-extract, re-split and re-embed the document even if nothing changed (after the response)."""
    user = caller(request)
    document = _document(user, document_id)
    _require(user, "change_document")
    with transaction.atomic():
        enqueue_ingestion(document.pk, force=True)
    document.refresh_from_db()
    return Status(202, _document_out(document, request))


@router.get("/collections", response={200: list[CollectionOut], **READ_ERRORS}, summary="List collections")
def list_collections(request: HttpRequest) -> list[dict[str, Any]]:
    user = caller(request)
    # Count only the documents the caller may see: a count must not reveal the others.
    visible = Q(documents__in=Document.objects.visible_to(user).values("pk"))
    collections = Collection.objects.using(read_database(Collection)).visible_to(user).annotate(document_count=Count("documents", filter=visible))
    return [
        {"id": c.pk, "name": c.name, "slug": c.slug, "description": c.description,
         "document_count": c.document_count}  # type: ignore[attr-defined]  # annotate()d above
        for c in collections
    ]

