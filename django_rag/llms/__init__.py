"""LLM backends, configured in ``DJANGO_RAG["LLMS"]``.

>>> from django_rag.llms import get_llm
>>> get_llm().generate([{"role": "user", "content": "..."}]).text
"""

from __future__ import annotations

from ..backends import BackendHandler
from ..conf import DEFAULT_LLM_ALIAS
from .base import AsyncTextStream, BaseLLM, Completion, TextStream

llms: BackendHandler[BaseLLM] = BackendHandler("LLMS")


def get_llm(alias: str = DEFAULT_LLM_ALIAS) -> BaseLLM:
    return llms[alias]


__all__ = ["AsyncTextStream", "BaseLLM", "Completion", "TextStream", "get_llm", "llms"]
