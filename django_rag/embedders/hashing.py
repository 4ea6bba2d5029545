"""A deterministic, dependency-free embedder: feature hashing of words and character n-grams.

It needs no network, no model and no keys, so tests and the zero-config example site
work anywhere. Its vectors carry real lexical similarity (shared words and shared word
pieces raise the cosine), which makes it a fair stand-in for development, though it
knows nothing of synonyms or meaning: use a neural embedder in production.

Each word contributes one feature for itself and one for each character n-gram of
``<word>``; each feature is hashed with CRC-32 (stable across processes, unlike
Python's salted ``hash()``) to a position and a sign, and the sum is L2-normalised.

Speed: see benchmarks/RESULTS.md (a 1,000-character chunk, 384 dimensions, SciFact
text); the vectors are bit-for-bit the vectors of the first version
(same features, same order of additions, same identity ``v1``); see ``__init__``.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from .base import BaseEmbedder

_WORD = re.compile(r"\w+", re.UNICODE)


class Embedder(BaseEmbedder):
    provider = "hashing"
    # Its vectors carry only lexical evidence, which the BM25 leg ranks better: on SciFact
    # RRF with equal weights scored below BM25 alone (the figures: benchmarks/RESULTS.md).
    # At 0 hybrid ranks exactly as BM25 and the semantic leg only adds candidates after
    # the keyword hits, so fusion never ends below the better leg (benchmarks/RESULTS.md).
    hybrid_weight = 0.0

    def __init__(
        self,
        *,
        alias: str,
        dimensions: int = 384,
        ngram_range: tuple[int, int] | list[int] = (3, 4),
        word_weight: float = 1.0,
        ngram_weight: float = 0.35,
        **options: Any,
    ) -> None:
        super().__init__(alias=alias, dimensions=dimensions, **options)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.word_weight = float(word_weight)
        self.ngram_weight = float(ngram_weight)
        # Every feature is one of 4 * dimensions (index, signed weight) pairs. Building
        # each pair once and sharing it among all words makes the cached features of a
        # word a tuple of pointers into a table of ~90 KB (for 384 dimensions) that stays
        # in the CPU cache, instead of three fresh objects (a tuple, an int, a float) per
        # feature scattered over the heap: embedding got faster (benchmarks/RESULTS.md),
        # the values are unchanged.
        # The first version computed ``sign * weight`` per feature, with sign = +-1.0.
        self._pairs = tuple(
            tuple(((index, 1.0 * weight), (index, -1.0 * weight)) for index in range(self.dimensions))
            for weight in (self.word_weight, self.ngram_weight)
        )
        # Words repeat (Zipf), so hashing each distinct word once per process makes
        # embedding cost roughly one dict lookup per word.
        self._features = lru_cache(maxsize=200_000)(self._word_features)

    @property
    def model_name(self) -> str:  # type: ignore[override]
        low, high = self.ngram_range
        return f"v1-w{self.word_weight:g}-n{low}{high}x{self.ngram_weight:g}"

    def _word_features(self, word: str) -> tuple[tuple[int, float], ...]:
        dims = self.dimensions
        names = ["w:" + word]
        padded = f"<{word}>"
        low, high = self.ngram_range
        for n in range(low, high + 1):
            for start in range(0, max(len(padded) - n + 1, 0)):
                names.append("c:" + padded[start : start + n])
        word_pairs, ngram_pairs = self._pairs
        out = []
        pairs = word_pairs  # the first feature is the word itself, the rest are n-grams
        for name in names:
            h = zlib.crc32(name.encode("utf-8"))
            # Bit 31 set: sign +1, else -1; the position is h % dims.
            out.append(pairs[h % dims][0 if (h >> 31) & 1 else 1])
            pairs = ngram_pairs
        return tuple(out)

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        features = self._features
        for word in _WORD.findall(text.lower()):
            for index, weight in features(word):
                vector[index] += weight
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:
            return vector
        return [x / norm for x in vector]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._embed(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)
