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

import os
from typing import Any

from django.core.checks import CheckMessage, Error

from ..exceptions import ImproperlyInstalled, RAGImproperlyConfigured
from ..redaction import redact
from .base import option_number
from .langchain import LangChainLLM, quote_error

try:
    import openai
    from langchain_openai import ChatOpenAI
except ImportError as exc:  # pragma: no cover - exercised by simulating the missing package
    raise ImproperlyInstalled(backend="django_rag.llms.openai.LLM", package="langchain-openai", extra="openai") from exc


class LLM(LangChainLLM):
    provider = "openai"
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
        if not isinstance(model, str) or not model:
            raise RAGImproperlyConfigured(f"{self.option_path('model')} must be a model name.")
        self.model_name = self.model = model
        # Read the environment now rather than at import, so settings and tests that set
        # the variable before building the LLM are honoured.
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        # The same fallbacks langchain-openai and the SDK use, resolved here so that error
        # messages can say where the request went.
        self.base_url = base_url or os.environ.get("OPENAI_API_BASE") or os.environ.get("OPENAI_BASE_URL")
        self.temperature = option_number(temperature, self.option_path("temperature"), allow_none=True, allow_zero=True)
        self.max_tokens = option_number(max_tokens, self.option_path("max_tokens"), integer=True, allow_none=True)
        self.stream_usage = bool(stream_usage)
        self.extra = extra

    @property
    def secrets(self) -> list[str]:
        return [self.api_key] if self.api_key else []

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "api_key": self.api_key,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream_usage": self.stream_usage,
            **self.extra,
        }
        if self.base_url:
            kwargs["base_url"] = self.base_url
        return kwargs

    def build_client(self, **overrides: Any) -> ChatOpenAI:
        if not self.api_key:
            raise RAGImproperlyConfigured(self._missing_key_message())
        try:
            return ChatOpenAI(**{**self.client_kwargs(), **overrides})
        except Exception as exc:  # pydantic's ValidationError for a bad option, mostly
            raise RAGImproperlyConfigured(
                f'{self.setting_path}["OPTIONS"] were not accepted by ChatOpenAI: {quote_error(exc, self.secrets)}'
            ) from None

    def build_async_client(self) -> ChatOpenAI:
        # langchain-openai shares one async httpx client per (base_url, timeout) across
        # the process, whatever the event loop: give each loop its own.
        if "http_async_client" in self.extra:
            return self.client
        return self.build_client(http_async_client=openai.DefaultAsyncHttpxClient())

    def _missing_key_message(self) -> str:
        return (
            f"LLM {self.alias!r} has no OpenAI API key: set the OPENAI_API_KEY environment variable "
            f"or {self.option_path('api_key')} (any non-empty string for a server that needs none)."
        )

    def check(self) -> list[CheckMessage]:
        messages = super().check()
        if not self.api_key:
            messages.append(Error(self._missing_key_message(), obj=self.setting_path, id="django_rag.E014"))
        elif self._client is None:
            # Building the client is local work (no request): it catches misspelt options.
            try:
                self.build_client()
            except RAGImproperlyConfigured as exc:
                messages.append(Error(str(exc), obj=self.setting_path, id="django_rag.E015"))
        return messages

    @property
    def where(self) -> str:
        return redact(self.base_url or "api.openai.com", self.secrets)

    def status_hint(self, status: int) -> str:
        return {
            401: f" Check the API key ({self.option_path('api_key')} or OPENAI_API_KEY).",
            403: f" Check that the API key may use {self.model!r}.",
            404: f" Check {self.option_path('model')} and {self.option_path('base_url')}.",
        }.get(status, "")
