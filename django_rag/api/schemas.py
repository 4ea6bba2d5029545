"""Request and response bodies, with the examples the OpenAPI schema shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, field_validator


def _storable(value: str) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates (which JSON can encode):
    # NUL becomes a space, as everywhere in django-rag; a surrogate is refused.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no unpaired surrogates)") from None
    return value.replace("\x00", " ")


#: A string that can be stored and searched.
Text = Annotated[str, AfterValidator(_storable)]

Mode = Literal["hybrid", "semantic", "keyword"]
MAX_K = 50


class ErrorOut(Schema):
    detail: str | list[dict[str, Any]] = Field(
        ..., description="What went wrong (a list of field errors for 422).", examples=["Not found."]
    )
    code: str = Field(..., description="A stable machine-readable code.", examples=["not_found"])


class Turn(Schema):
    role: Literal["user", "assistant"]
    content: Text = Field(..., max_length=10_000)


class AskIn(Schema):
    question: Text = Field(..., min_length=1, max_length=10_000, examples=["How many days of parental leave do I get?"])
    collection: Text | None = Field(None, max_length=200, description="A collection's slug.", examples=["handbook"])
    history: list[Turn] = Field(
        default_factory=list, max_length=20, description="Earlier turns, oldest first: the question is a follow-up."
    )
    k: int | None = Field(None, ge=1, le=MAX_K, description="Chunks given to the model (default ANSWER_K).")
    mode: Mode = "hybrid"

    @field_validator("k", mode="before")
    @classmethod
    def _k_is_not_a_boolean(cls, value: Any) -> Any:
        # JSON true is not the number 1, which pydantic's lax mode would make of it.
        if isinstance(value, bool):
            raise ValueError("k must be an integer, not a boolean")
        return value

    model_config = {
        "json_schema_extra": {
            "examples": [{"question": "How many days of parental leave do I get?", "collection": "handbook"}]
        }
    }


class SourceOut(Schema):
    number: int = Field(..., examples=[1], description="The [n] the answer cites.")
    chunk_id: int
    document_id: int
    title: str = Field(..., examples=["Leave policy"])
    url: str = Field(..., examples=["https://intranet.example.com/leave"])
    page: int | None = None
    score: float
    snippet: str = Field(..., examples=["Employees get 20 days of parental leave…"])


class AnswerOut(Schema):
    question: str = Field(..., examples=["How many days of parental leave do I get?"])
    answer: str = Field(..., examples=["You get 20 days of parental leave [1]."])
    citations: list[SourceOut] = Field(..., description="The sources the answer cites, in order.")
    sources: list[SourceOut] = Field(..., description="Every source shown to the model.")
    standalone_question: str = Field("", description="The follow-up rewritten as a question of its own.")
    no_answer: bool = Field(False, description="Nothing relevant was found; the answer says so.")
    cached: bool = False


class SearchResultOut(Schema):
    chunk_id: int
    document_id: int
    document_title: str = Field(..., examples=["Leave policy"])
    collection: str | None = Field(None, examples=["handbook"])
    content: str = Field(..., examples=["Employees get 20 days of parental leave."])
    score: float = Field(..., examples=[0.0325])
    url: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentOut(Schema):
    id: int = Field(..., examples=[42])
    title: str = Field(..., examples=["Leave policy"])
    collection: str | None = Field(None, examples=["handbook"])
    status: Literal["pending", "processing", "ready", "failed"] = Field(..., examples=["ready"])
    error: str = Field("", description="Why the last ingestion failed.")
    file: str | None = Field(None, examples=["leave.pdf"], description="The uploaded file's name.")
    file_url: str | None = Field(
        None, examples=["https://intranet.example.com/rag/documents/42/file"],
        description="Where to download the file (with the same credentials).",
    )
    source_url: str = ""
    language: str = ""
    chunk_count: int = Field(..., examples=[12])
    created_at: datetime
    updated_at: datetime
    ingested_at: datetime | None = None


class DocumentListOut(Schema):
    count: int = Field(..., examples=[1])
    items: list[DocumentOut]


class CollectionOut(Schema):
    id: int
    name: str = Field(..., examples=["HR handbook"])
    slug: str = Field(..., examples=["handbook"])
    description: str = ""
    document_count: int = Field(..., examples=[3])
