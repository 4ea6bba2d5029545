"""Chat models served by Ollama, through langchain-ollama.

::

    DJANGO_RAG = {"LLMS": {"default": {
        "BACKEND": "django_rag.llms.ollama.LLM",
        "OPTIONS": {"model": "llama3.2"},  # server from $OLLAMA_HOST or 127.0.0.1:11434
    }}}

Options: ``model`` (default ``llama3.2``), ``base_url`` (default ``$OLLAMA_HOST`` or
``http://127.0.0.1:11434``), ``timeout`` in seconds (120), ``max_retries`` (0; retried
here with a short backoff, only before any text was streamed), ``temperature`` (0),
``max_tokens`` (sent as Ollama's ``num_predict``), ``api_key`` (for a hosted Ollama
behind a bearer token; default ``$OLLAMA_API_KEY``), ``client_kwargs`` for the
underlying httpx client; any other option (``keep_alive``, ``num_ctx``...) is passed to
``ChatOllama``.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import requires_extra
from ..providers import DEFAULT_OLLAMA_HOST as DEFAULT_HOST  # noqa: F401 (kept importable from here)
from ..providers import OllamaConnection
from .langchain import LangChainLLM

with requires_extra("ollama", package="langchain-ollama", backend="django_rag.llms.ollama.LLM"):
    from langchain_ollama import ChatOllama


class LLM(OllamaConnection, LangChainLLM):
    provider = "ollama"
    client_class = ChatOllama
    rejected_options_check_id = "django_rag.E015"

    def __init__(
        self,
        *,
        alias: str,
        model: str = "llama3.2",
        base_url: str | None = None,
        # Generous: Ollama loads the model into memory on the first request after it
        # was unloaded, and a CPU-only host writes a few tokens a second.
        timeout: float | None = 120.0,
        # A local server that refuses connections is usually not running at all, and a
        # 500 is usually a model that cannot load: retrying rarely helps.
        max_retries: int = 0,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        api_key: str | None = None,
        client_kwargs: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(alias=alias, timeout=timeout, max_retries=max_retries)
        self.set_model(model)
        self.temperature = self.option_number(temperature, "temperature", allow_none=True, allow_zero=True)
        self.max_tokens = self.option_number(max_tokens, "max_tokens", integer=True, allow_none=True)
        self.read_connection_options(api_key=api_key, base_url=base_url, client_kwargs=client_kwargs)
        self.extra = extra

    def model_arguments(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "num_predict": self.max_tokens}

    def build_async_client(self) -> ChatOllama:
        # ChatOllama makes its async httpx client when built; a new one per event loop.
        client: ChatOllama = self.build_client()
        return client
