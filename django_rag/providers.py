"""How django-rag connects to a provider, shared by that provider's embedder and LLM.

The OpenAI embedder and the OpenAI LLM read the same key and server from the same
environment variables, report the same missing key, and send the same hints for the
same HTTP statuses; so do the Ollama pair. Each pair's common part is a mixin here,
placed before the LangChain base class::

    class Embedder(OpenAIConnection, LangChainEmbedder): ...
    class LLM(OpenAIConnection, LangChainLLM): ...

No SDK is imported here: each backend module imports its own under the guard that names
the extra to install, and names the LangChain class to build in :attr:`client_class`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from django.core.checks import CheckMessage, Error

from .exceptions import RAGImproperlyConfigured
from .redaction import quote_error, redact

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"

#: Said after an HTTP 429, by the embedders and the LLMs alike.
RATE_LIMITED_HINT = " Rate limited or out of quota; retry later or raise max_retries."


if TYPE_CHECKING:
    from .backends import BaseBackend

    _Backend = BaseBackend  # what the mixin is mixed into, to the type checker
else:
    _Backend = object


class ProviderConnection(_Backend):
    """A backend that builds a LangChain client from its OPTIONS and talks to one server.

    Mixed into :class:`~django_rag.embedders.langchain.LangChainEmbedder` and
    :class:`~django_rag.llms.langchain.LangChainLLM` subclasses, which provide ``alias``,
    ``kind``, ``setting_path``, ``option_path()``, ``timeout`` and ``_client``. The
    backend sets :attr:`client_class` and :attr:`rejected_options_check_id`, and the
    provider's mixin below provides :meth:`client_arguments`.
    """

    #: The LangChain class :meth:`build_client` instantiates.
    client_class: type
    #: The system-check id for OPTIONS the client rejects.
    rejected_options_check_id: str
    #: The system-check id for a missing key, for providers that require one.
    missing_key_check_id: str | None = None
    #: Named in messages as where requests go when ``base_url`` is not set.
    default_where: str = ""

    model: str
    model_name: str
    api_key: str | None
    base_url: str | None
    timeout: float | None
    extra: dict[str, Any]

    if TYPE_CHECKING:  # provided by the LangChain base class
        alias: str
        setting_path: str
        _client: Any

        def option_path(self, name: str) -> str: ...

    def set_model(self, model: Any) -> None:
        if not isinstance(model, str) or not model:
            raise RAGImproperlyConfigured(f"{self.option_path('model')} must be a model name.")
        self.model_name = self.model = model

    @property
    def secrets(self) -> list[str]:
        return [self.api_key] if self.api_key else []

    @property
    def where(self) -> str:
        return redact(self.base_url or self.default_where, self.secrets)

    def missing_key_message(self) -> str | None:
        """Why no request could be authenticated, or None when nothing is missing."""
        return None

    def client_arguments(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement client_arguments() -> dict.")

    def model_arguments(self) -> dict[str, Any]:
        """The client arguments only this kind of backend has (an LLM's temperature...)."""
        return {}

    def build_client(self, **overrides: Any) -> Any:
        missing = self.missing_key_message()
        if missing:
            raise RAGImproperlyConfigured(missing)
        try:
            return self.client_class(**{**self.client_arguments(), **overrides})
        except Exception as exc:  # pydantic's ValidationError for a bad option, mostly
            raise RAGImproperlyConfigured(
                f'{self.setting_path}["OPTIONS"] were not accepted by {self.client_class.__name__}: '
                f"{quote_error(exc, self.secrets)}"
            ) from None

    def check(self) -> list[CheckMessage]:
        messages: list[CheckMessage] = super().check()
        obj = self.setting_path
        missing = self.missing_key_message()
        if missing:
            messages.append(Error(missing, obj=obj, id=self.missing_key_check_id))
        elif self._client is None:
            # Building the client is local work (no request is sent; ChatOllama and
            # OllamaEmbeddings keep validate_model_on_init False): it catches options the
            # client rejects, misspelt ones mostly.
            try:
                self.build_client()
            except RAGImproperlyConfigured as exc:
                messages.append(Error(str(exc), obj=obj, id=self.rejected_options_check_id))
        return messages

    def status_hint(self, status: int) -> str:
        """A sentence telling what to fix for an HTTP status, or ''."""
        return ""

    def unavailable_hint(self) -> str:
        """A sentence for a server that could not be reached, or ''."""
        return ""


class OpenAIConnection(ProviderConnection):
    """OpenAI and OpenAI-compatible servers (vLLM, LiteLLM, proxies...): a bearer key is required."""

    default_where = "api.openai.com"

    max_retries: int

    def read_connection_options(self, *, api_key: str | None, base_url: str | None) -> None:
        # Read the environment now rather than at import, so settings and tests that set
        # the variable before building the backend are honoured.
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        # The same fallbacks langchain-openai and the SDK use, resolved here so that error
        # messages can say where the request went.
        self.base_url = base_url or os.environ.get("OPENAI_API_BASE") or os.environ.get("OPENAI_BASE_URL")

    def missing_key_message(self) -> str | None:
        if self.api_key:
            return None
        return (
            f"{self.kind} {self.alias!r} has no OpenAI API key: set the OPENAI_API_KEY environment variable "
            f"or {self.option_path('api_key')} (any non-empty string for a server that needs none)."
        )

    def client_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :attr:`client_class`."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "api_key": self.api_key,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            **self.model_arguments(),
            **self.extra,
        }
        if self.base_url:
            kwargs["base_url"] = self.base_url
        return kwargs

    def client_arguments(self) -> dict[str, Any]:
        return self.client_kwargs()

    def status_hint(self, status: int) -> str:
        return {
            401: f" Check the API key ({self.option_path('api_key')} or OPENAI_API_KEY).",
            404: f" Check {self.option_path('model')} and {self.option_path('base_url')}.",
        }.get(status, "")


class OllamaConnection(ProviderConnection):
    """An Ollama server: local by default, or hosted behind a bearer token."""

    client_kwargs: dict[str, Any]

    def read_connection_options(
        self, *, api_key: str | None, base_url: str | None, client_kwargs: dict[str, Any] | None
    ) -> None:
        # Read at construction, not import, so the environment of the running process counts.
        self.base_url = base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_HOST
        self.api_key = api_key if api_key is not None else os.environ.get("OLLAMA_API_KEY")
        if client_kwargs is not None and not isinstance(client_kwargs, dict):
            raise RAGImproperlyConfigured(f"{self.option_path('client_kwargs')} must be a dict.")
        self.client_kwargs = dict(client_kwargs or {})

    def http_client_kwargs(self) -> dict[str, Any]:
        """The options of the httpx client inside the Ollama SDK, with the key as a bearer token."""
        kwargs = {"timeout": self.timeout, **self.client_kwargs}
        if self.api_key:
            headers = dict(kwargs.get("headers") or {})
            headers.setdefault("Authorization", f"Bearer {self.api_key}")
            kwargs["headers"] = headers
        return kwargs

    def client_arguments(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "base_url": self.base_url,
            "client_kwargs": self.http_client_kwargs(),
            **self.model_arguments(),
            **self.extra,
        }

    def unavailable_hint(self) -> str:
        return " Is `ollama serve` running?"

    def status_hint(self, status: int) -> str:
        return {
            401: f" Check {self.option_path('api_key')} or OLLAMA_API_KEY.",
            404: f" Run `ollama pull {self.model}` on the server.",
        }.get(status, "")
