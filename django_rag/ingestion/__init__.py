"""Ingestion: turning documents into embedded, searchable chunks."""

from typing import TYPE_CHECKING, Any

from .extractors import Extracted, Section, extract

if TYPE_CHECKING:  # what __getattr__ below loads, as the type checker should see it
    from .pipeline import IngestResult, ingest, ingest_many

__all__ = ["Extracted", "IngestResult", "Section", "extract", "ingest", "ingest_many"]

_PIPELINE = ("IngestResult", "ingest", "ingest_many")


def __getattr__(name: str) -> Any:
    # The pipeline (and through it the models) loads on first use, so the extractors can
    # be imported without a configured Django project: the extraction sandbox
    # (ingestion/sandbox.py) runs them in a bare interpreter.
    if name in _PIPELINE:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
