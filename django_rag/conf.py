"""The ``DJANGO_RAG`` settings dict, merged over defaults.

Settings are read lazily through :func:`get_settings` and the cache is dropped on
Django's ``setting_changed`` signal, so ``override_settings(DJANGO_RAG=...)`` works in
tests. Nothing in the package reads settings at import time.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULT_EMBEDDER_ALIAS = "default"
DEFAULT_LLM_ALIAS = "default"

DEFAULTS: dict[str, Any] = {
    # Embedders by alias, like Django's CACHES: {"alias": {"BACKEND": ..., "OPTIONS": {...}}}.
    # The zero-config default needs no network, no keys and no model download.
    "EMBEDDERS": {
        DEFAULT_EMBEDDER_ALIAS: {
            "BACKEND": "django_rag.embedders.hashing.Embedder",
            "OPTIONS": {"dimensions": 384},
        }
    },
    # LLMs by alias, the same way. The zero-config default is no model at all: it quotes
    # the best-matching source sentences with their citations (see docs/llms.md).
    "LLMS": {
        DEFAULT_LLM_ALIAS: {
            "BACKEND": "django_rag.llms.extractive.LLM",
            "OPTIONS": {},
        }
    },
    # Splitting (django_rag/ingestion/splitting.py, docs/ingestion.md#chunking): the size a
    # chunk aims at and the overlap of consecutive ones, in CHUNK_UNIT: "characters", or
    # "tokens" counted by the embedder's tokenizer (characters for one without). A chunk
    # never exceeds the embedder's input limit. SEPARATORS: where a sentence too long for
    # a chunk is cut, in order (characters last).
    "CHUNK_SIZE": 1000,
    "CHUNK_OVERLAP": 150,
    "CHUNK_UNIT": "characters",
    "SEPARATORS": ["\n\n", "\n", ". ", " ", ""],
    # Search and embed each chunk with its document's title and section path (stored
    # in Chunk.context, never shown as content). See docs/ingestion.md.
    "CHUNK_CONTEXT": True,
    # How many chunks go to the embedder in one call.
    "EMBED_BATCH_SIZE": 64,
    # ingest_many() (rag_ingest, rag_reindex, admin actions) swaps the chunks of up to
    # this many documents in one transaction, flushing early past INGEST_BATCH_CHUNKS
    # chunks so that memory stays bounded.
    "INGEST_BATCH_SIZE": 32,
    "INGEST_BATCH_CHUNKS": 2000,
    # Files larger than this are refused before they are read (bytes).
    "MAX_FILE_SIZE": 20 * 1024 * 1024,
    # Extracted text longer than this is refused (characters); guards against zip-bomb-like PDFs.
    "MAX_TEXT_LENGTH": 5_000_000,
    # The extraction budget of one document (PDFs; see django_rag/ingestion/sandbox.py):
    # pages read, seconds of CPU and of wall-clock time, and memory of the child process
    # that parses the file. EXTRACT_IN_SUBPROCESS=False parses in the worker itself,
    # checking the time between pages only (for platforms without subprocesses).
    "MAX_PAGES": 2000,
    "MAX_EXTRACT_SECONDS": 60,
    "MAX_EXTRACT_MEMORY_MB": 1024,
    "EXTRACT_IN_SUBPROCESS": True,
    # A site's own extractors (dotted paths to Extractor subclasses), added to the
    # built-in ones; one with a built-in's format replaces it. See docs/ingestion.md.
    "EXTRACTORS": [],
    # PostgreSQL text search configuration used when neither the document nor its
    # collection names one.
    "DEFAULT_LANGUAGE": "english",
    # Build the HNSW index for each configured embedder after `migrate`.
    "AUTO_CREATE_VECTOR_INDEXES": True,
    # HNSW build parameters for those indexes (pgvector's defaults).
    "HNSW_M": 16,
    "HNSW_EF_CONSTRUCTION": 64,
    # "auto": index vectors as pgvector's `vector`, or as `halfvec` (half precision) when
    # they have more than the 2,000 dimensions a `vector` HNSW index holds; "half":
    # always `halfvec`, which halves the indexes' memory.
    "VECTOR_INDEX_PRECISION": "auto",
    # pgvector 0.8 iterative index scans, set on each new connection, so that filtered
    # semantic searches keep scanning until they have enough rows. None leaves it off.
    "HNSW_ITERATIVE_SCAN": "relaxed_order",
    # Answers (django_rag.ask): chunks given to the LLM, the no-answer guard and text.
    "ANSWER_K": 5,
    "NO_ANSWER_TEXT": "I don't know: the available documents do not answer this question.",
    # The guard answers NO_ANSWER_TEXT without calling the LLM when no retrieved chunk
    # shares a term with the question and none is at least this similar (cosine).
    "NO_ANSWER_MIN_SIMILARITY": 0.3,
    "MAX_QUESTION_LENGTH": 2000,
    # DATABASES alias that searches, ask() and the API read from (a streaming replica);
    # None: wherever Django's database routers send reads. Writes never go there.
    "READ_DATABASE": None,
    # Seconds each process keeps the active embedder it read from the database
    # (rag_activate_embedder): every process switches within this time.
    "EMBEDDER_STATE_TTL": 1.0,
    # PostgreSQL's parallel workers for building a re-embedded embedder's HNSW index
    # (max_parallel_maintenance_workers for that statement). 0: one process builds it,
    # leaving the other cores to the site's searches; None: the server's own setting.
    "REEMBED_INDEX_WORKERS": 0,
    # Django cache alias for query embeddings and answers (None: no caching).
    "CACHE": "default",
    "EMBEDDING_CACHE_TIMEOUT": 24 * 3600,
    "ANSWER_CACHE_TIMEOUT": 3600,
    # Record every question in QueryLog.
    "QUERY_LOG": True,
    # Retrieval defaults (each is also a keyword argument of the search methods).
    "CANDIDATES": 100,  # rows each leg contributes before fusion
    "RRF_K": 60,  # Reciprocal Rank Fusion constant
    # {"semantic": w, "keyword": w}; None: 1.0 for keyword and the embedder's own
    # hybrid_weight for semantic (1.0, or 0.0 for the lexical hashing embedder).
    "HYBRID_WEIGHTS": None,
    "KEYWORD_POSTINGS_PER_TERM": 1000,  # best postings read per query term (BM25 leg)
    # The most results one search or answer may ask for (k), and the most candidates per
    # leg (candidates=): larger values are refused with a ValueError (see docs/security.md).
    # The REST API caps k at 50 whatever this says.
    "MAX_K": 1000,
    "MAX_CANDIDATES": 10_000,
    # Background work (django_rag.tasks.enqueue): "auto" (django-q2 when it is installed
    # and Q_CLUSTER is set, else inline), "django_q" or "sync" (inline).
    "QUEUE": "auto",
    # Enqueue a document's ingestion when it is saved with a new or changed file, text,
    # title or language (see django_rag.receivers).
    "INGEST_ON_SAVE": True,
    # Delete a document's file from storage when the document is deleted.
    "DELETE_FILES": False,
    # Seconds after which a document still "processing" counts as stuck and may be re-queued.
    "PROCESSING_TIMEOUT": 3600,
    # Seconds a task waits for a document that another worker is ingesting.
    "BUSY_WAIT_SECONDS": 300,
    # An ingestion's lease on its document (renewed while it embeds): a document still
    # "processing" past its lease lost its worker and counts as stuck.
    "INGEST_LEASE_SECONDS": 300,
    # A batch whose embedder timed out or was unavailable (HTTP 5xx/429, connection
    # dropped) is tried again this many times, after EMBED_RETRY_DELAY seconds, doubled
    # each time. Refusals (HTTP 4xx, wrong dimensions) are not retried.
    "EMBED_RETRIES": 2,
    "EMBED_RETRY_DELAY": 1.0,
    # Evaluation (rag_eval, django_rag.evaluate): the LLM alias that judges answers
    # (None: the alias that answers), and how long its verdicts stay cached (seconds).
    "EVAL_JUDGE_LLM": None,
    "EVAL_JUDGE_CACHE_TIMEOUT": 30 * 24 * 3600,
    # Dotted path to a callable `user -> Q` over Document that replaces the built-in
    # visibility rules (owner, shared groups, public). See docs/permissions.md.
    "ACCESS_POLICY": None,
    # REST API (django_rag.api.router): how callers may authenticate ("api_key": a
    # bearer key from the admin; "session": Django's session cookie, with CSRF).
    "API_AUTH": ["api_key", "session"],
    # Requests allowed per caller: "N/s", "N/min", "N/hour" or "N/day"; None: unlimited.
    # "key" counts each API key, "user" each user (over all their keys and sessions),
    # "anonymous" each client address when the router is mounted without auth,
    # "failed_auth" the failed authentications (wrong keys, 401s) of each client address.
    "API_THROTTLE": {"key": "600/min", "user": "600/min", "anonymous": "60/min", "failed_auth": "10/min"},
    # Proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed when the
    # throttle finds a client's address; empty: REMOTE_ADDR, whatever a client sends.
    "API_TRUSTED_PROXIES": [],
    # Django cache alias holding the throttle counters (shared by every server process
    # only if the cache is: use Redis or the database cache in production).
    "API_THROTTLE_CACHE": "default",
    # The STORAGES alias uploaded files are kept in; a storage that is not served
    # publicly keeps them away from MEDIA_URL (see docs/security.md).
    "FILE_STORAGE": "default",
    # The site's address ("https://intranet.example.com"): links to files are made
    # absolute with it where there is no request (rag_ask, ask() in a worker).
    "SITE_URL": None,
}

# Settings whose value must be of this type; checked by django_rag.E010.
SETTING_TYPES: dict[str, type | tuple[type, ...]] = {
    "EMBEDDERS": dict,
    "LLMS": dict,
    "CHUNK_SIZE": int,
    "CHUNK_OVERLAP": int,
    "CHUNK_UNIT": str,
    "SEPARATORS": (list, tuple),
    "EMBED_BATCH_SIZE": int,
    "INGEST_BATCH_SIZE": int,
    "INGEST_BATCH_CHUNKS": int,
    "CHUNK_CONTEXT": bool,
    "MAX_FILE_SIZE": int,
    "MAX_TEXT_LENGTH": int,
    "MAX_PAGES": (int, type(None)),
    "MAX_EXTRACT_SECONDS": (int, float),
    "MAX_EXTRACT_MEMORY_MB": (int, type(None)),
    "EXTRACT_IN_SUBPROCESS": bool,
    "EXTRACTORS": (list, tuple),
    "DEFAULT_LANGUAGE": str,
    "AUTO_CREATE_VECTOR_INDEXES": bool,
    "HNSW_M": int,
    "HNSW_EF_CONSTRUCTION": int,
    "VECTOR_INDEX_PRECISION": str,
    "HNSW_ITERATIVE_SCAN": (str, type(None)),
    "CANDIDATES": int,
    "RRF_K": (int, float),
    "HYBRID_WEIGHTS": (dict, type(None)),
    "KEYWORD_POSTINGS_PER_TERM": int,
    "MAX_K": int,
    "MAX_CANDIDATES": int,
    "ANSWER_K": int,
    "NO_ANSWER_TEXT": str,
    "NO_ANSWER_MIN_SIMILARITY": (int, float),
    "MAX_QUESTION_LENGTH": int,
    "READ_DATABASE": (str, type(None)),
    "EMBEDDER_STATE_TTL": (int, float),
    "REEMBED_INDEX_WORKERS": (int, type(None)),
    "CACHE": (str, type(None)),
    "EMBEDDING_CACHE_TIMEOUT": (int, type(None)),
    "ANSWER_CACHE_TIMEOUT": (int, type(None)),
    "QUERY_LOG": bool,
    "QUEUE": str,
    "INGEST_ON_SAVE": bool,
    "DELETE_FILES": bool,
    "PROCESSING_TIMEOUT": (int, float),
    "BUSY_WAIT_SECONDS": (int, float),
    "INGEST_LEASE_SECONDS": (int, float),
    "EMBED_RETRIES": int,
    "EMBED_RETRY_DELAY": (int, float),
    "EVAL_JUDGE_LLM": (str, type(None)),
    "EVAL_JUDGE_CACHE_TIMEOUT": (int, type(None)),
    "ACCESS_POLICY": (str, type(None)),
    "API_AUTH": (list, tuple),
    "API_THROTTLE": (dict, type(None)),
    "API_THROTTLE_CACHE": str,
    "API_TRUSTED_PROXIES": (list, tuple),
    "FILE_STORAGE": str,
    "SITE_URL": (str, type(None)),
}


_TEN_YEARS = 10 * 365 * 24 * 3600  # seconds; longer durations overflow datetime arithmetic
# The range of each numeric setting, (minimum, maximum), None for no bound; NaN and
# infinities are always refused. Checked by django_rag.E060, once the type is right (E010).
SETTING_RANGES: dict[str, tuple[float | None, float | None]] = {
    "MAX_K": (1, 100_000),
    "MAX_CANDIDATES": (1, 1_000_000),
    "ANSWER_K": (1, None),  # and at most MAX_K: E061
    "CANDIDATES": (1, None),  # and at most MAX_CANDIDATES: E061
    "KEYWORD_POSTINGS_PER_TERM": (1, 2**31 - 1),
    "RRF_K": (0, None),
    "NO_ANSWER_MIN_SIMILARITY": (None, None),
    "HNSW_M": (2, 100),  # pgvector's limits
    "HNSW_EF_CONSTRUCTION": (4, 1000),
    "EMBEDDING_CACHE_TIMEOUT": (0, _TEN_YEARS),
    "ANSWER_CACHE_TIMEOUT": (0, _TEN_YEARS),
    "EVAL_JUDGE_CACHE_TIMEOUT": (0, _TEN_YEARS),
    "PROCESSING_TIMEOUT": (0, _TEN_YEARS),
    "BUSY_WAIT_SECONDS": (0, _TEN_YEARS),
    "EMBEDDER_STATE_TTL": (0, 3600),
    "REEMBED_INDEX_WORKERS": (0, 1024),  # PostgreSQL's own limit
}

@cache
def get_settings() -> dict[str, Any]:
    """Return ``DJANGO_RAG`` merged over :data:`DEFAULTS` (cached until settings change)."""
    user = getattr(django_settings, "DJANGO_RAG", None) or {}
    merged = dict(DEFAULTS)
    merged.update(user)
    return merged


def get_setting(name: str) -> Any:
    return get_settings()[name]


@receiver(setting_changed)
def _reset_settings(*, setting: str, **kwargs: Any) -> None:
    # Connected at import with no sender because Django sends setting_changed with
    # sender=the override class; filtering on the setting name is the documented way.
    if setting == "DJANGO_RAG":
        get_settings.cache_clear()
