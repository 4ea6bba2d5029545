"""OpenAI chat models (and OpenAI-compatible servers) through langchain-openai.

::

    DJANGO_RAG = {"LLMS": {"default": {
        "BACKEND": "django_rag.llms.openai.LLM",
        "OPTIONS": {"model": "gpt-4o-mini"},  # key from $OPENAI_API_KEY
    }}}

Options: ``model`` (default ``gpt-4o-mini``), ``api_key`` (default ``$OPENAI_API_KEY``,
read when the LLM is built), ``base_url`` (default ``$OPENAI_API_BASE`` or
``$OPENAI_BASE_URL``; for proxies, vLLM, LiteLLM...), ``timeout`` in seconds (60),
``max_retries`` (2, done by the OpenAI SDK, which honours ``Retry-After``),
``temperature`` (0), ``max_tokens`` (None: the model's limit), ``stream_usage`` (True:
ask for token counts at the end of a stream; set False for a server that rejects
``stream_options``); any other option is passed to ``ChatOpenAI``.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import requires_extra
from ..providers import OpenAIConnection
from .langchain import LangChainLLM

with requires_extra("openai", package="langchain-openai", backend="django_rag.llms.openai.LLM"):
    import openai
    from langchain_openai import ChatOpenAI


class LLM(OpenAIConnection, LangChainLLM):
    provider = "openai"
    client_class = ChatOpenAI
    missing_key_check_id = "django_rag.E014"
    rejected_options_check_id = "django_rag.E015"
    # The SDK retries connection errors, timeouts, 408, 409, 429 and 5xx itself.
    client_retries = True

    def __init__(
        self,
        *,
        alias: str,
        model: str = "gpt-4o-mini",
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = 60.0,
        max_retries: int = 2,
        # Answers should follow the sources, not vary between two askings.
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        stream_usage: bool = True,
        **extra: Any,
    ) -> None:
        super().__init__(alias=alias, timeout=timeout, max_retries=max_retries)
        self.set_model(model)
        self.read_connection_options(api_key=api_key, base_url=base_url)
        self.temperature = self.option_number(temperature, "temperature", allow_none=True, allow_zero=True)
        self.max_tokens = self.option_number(max_tokens, "max_tokens", integer=True, allow_none=True)
        self.stream_usage = bool(stream_usage)
        self.extra = extra

    def model_arguments(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "stream_usage": self.stream_usage}

    def build_async_client(self) -> ChatOpenAI:
        # langchain-openai shares one async httpx client per (base_url, timeout) across
        # the process, whatever the event loop: give each loop its own.
        if "http_async_client" in self.extra:
            return self.client  # type: ignore[return-value]  # built by build_client(): a ChatOpenAI
        client: ChatOpenAI = self.build_client(http_async_client=openai.DefaultAsyncHttpxClient())
        return client

    def status_hint(self, status: int) -> str:
        if status == 403:
            return f" Check that the API key may use {self.model!r}."
        return super().status_hint(status)
