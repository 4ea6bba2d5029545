"""Ingestion: turning documents into embedded, searchable chunks."""

from .extractors import Extracted, Section, extract
from .pipeline import IngestResult, ingest, ingest_many

__all__ = ["Extracted", "IngestResult", "Section", "extract", "ingest", "ingest_many"]
