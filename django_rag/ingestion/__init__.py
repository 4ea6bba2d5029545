"""Ingestion: turning documents into embedded, searchable chunks."""

from .extractors import Extracted, Section, extract
from .pipeline import IngestResult, ingest

__all__ = ["Extracted", "IngestResult", "Section", "extract", "ingest"]
