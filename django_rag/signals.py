"""django-rag's own signals.

- ``document_ingested(sender=Document, document, result)``: a document was ingested
  (``result`` is the :class:`~django_rag.ingestion.IngestResult`).
- ``ingestion_failed(sender=Document, document, result)``: ingestion failed; the
  previous chunks are still in place.
- ``answer_generated(sender=Answer, answer, user)``: :func:`django_rag.ask` or
  :func:`django_rag.stream` produced an answer (cached ones included).
"""

from django.dispatch import Signal

document_ingested = Signal()
ingestion_failed = Signal()
answer_generated = Signal()
