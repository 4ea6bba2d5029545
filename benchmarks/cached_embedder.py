"""An embedder wrapper that keeps vectors on disk, so benchmark reruns skip the model.

Configured like any backend::

    {"BACKEND": "benchmarks.cached_embedder.Embedder",
     "OPTIONS": {"backend": "django_rag.embedders.sentence_transformers.Embedder",
                 "options": {"model": "all-MiniLM-L6-v2", "dimensions": 384},
                 "path": "benchmarks/.cache/minilm.sqlite3"}}

The chunks keep the wrapped embedder's identity, so they are the same rows the real
backend would write.
"""

from __future__ import annotations

import hashlib
import sqlite3
from array import array
from collections.abc import Sequence
from typing import Any

from django.utils.module_loading import import_string

from django_rag.embedders.base import BaseEmbedder


class Embedder(BaseEmbedder):
    def __init__(self, *, alias: str, backend: str, options: dict[str, Any], path: str) -> None:
        super().__init__(alias=alias)
        self.inner: BaseEmbedder = import_string(backend)(alias=alias, **options)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        self.misses = 0

    @property
    def dimensions(self) -> int:  # type: ignore[override]
        return self.inner.dimensions

    @property
    def identity(self) -> str:
        return self.inner.identity

    # Chunked as the wrapped backend would be: its tokenizer and its input limit.
    def tokenizer_name(self) -> str | None:
        return self.inner.tokenizer_name()

    def build_tokenizer(self):
        return self.inner.tokenizer()

    @property
    def max_input_tokens(self) -> int | None:  # type: ignore[override]
        return self.inner.max_input_tokens

    def resolve_max_input_tokens(self) -> int | None:
        return self.inner.resolve_max_input_tokens()

    @property
    def max_input_tokens_option(self) -> int | None:  # type: ignore[override]
        return self.inner.max_input_tokens_option

    @max_input_tokens_option.setter
    def max_input_tokens_option(self, value: int | None) -> None:
        pass  # BaseEmbedder.__init__ sets it; the wrapped backend's is the one that counts

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.inner.identity}\0{text}".encode()).hexdigest()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        keys = [self._key(t) for t in texts]
        found: dict[str, list[float]] = {}
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            rows = self.db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(batch))})", batch
            ).fetchall()
            found.update({k: list(array("f", blob)) for k, blob in rows})
        missing = [(k, t) for k, t in zip(keys, texts) if k not in found]
        if missing:
            self.misses += len(missing)
            vectors = self.inner.embed_documents([t for _, t in missing])
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                [(k, array("f", v).tobytes()) for (k, _), v in zip(missing, vectors)],
            )
            self.db.commit()
            found.update({k: list(v) for (k, _), v in zip(missing, vectors)})
        return [found[k] for k in keys]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
