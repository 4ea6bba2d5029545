"""An LLM for tests: scripted answers, a record of calls, scripted failures.

Use it in your own site's tests so they run offline and can assert what the LLM was
asked::

    DJANGO_RAG = {"LLMS": {"default": {
        "BACKEND": "django_rag.llms.testing.LLM",
        "OPTIONS": {"responses": ["Twenty days [1].", "Ask HR [2]."]},
    }}}

    llm = django_rag.llms.get_llm()
    llm.calls      # [[{"role": "system", "content": ...}, {"role": "user", ...}], ...]

Options:

- ``responses``: the answers, returned in turn. When they are used up they start again
  from the first (so one response serves every call); assert ``len(llm.calls)`` to
  check how many calls were made. Default: ``["This is a scripted answer [1]."]``.
- ``fail_with``: ``"timeout"``, ``"unavailable"`` or ``"bad_response"`` raises
  :class:`~django_rag.exceptions.LLMTimeout`, :class:`~django_rag.exceptions.LLMUnavailable`
  or :class:`~django_rag.exceptions.LLMBadResponse`, as a real provider's failure would.
- ``fail_on_call``: fail only the n-th call (1-based); default: every call fails when
  ``fail_with`` is set.
- ``delay``: seconds to wait before answering (or failing), to test timeouts and spinners.

Usage is reported with word counts standing in for tokens. Streams yield the response
word by word. The instance is shared by every use of its alias until ``DJANGO_RAG``
changes: call :meth:`LLM.reset` between tests, or use ``override_settings``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..exceptions import LLMBadResponse, LLMError, LLMTimeout, LLMUnavailable, RAGImproperlyConfigured
from .base import BaseLLM, Completion, chunk_words

DEFAULT_RESPONSE = "This is a scripted answer [1]."

FAILURES: dict[str, type[LLMError]] = {
    "timeout": LLMTimeout,
    "unavailable": LLMUnavailable,
    "bad_response": LLMBadResponse,
}


def count_words(text: str) -> int:
    return len(text.split())


class LLM(BaseLLM):
    provider = "testing"
    model_name = "scripted"

    def __init__(
        self,
        *,
        alias: str,
        responses: list[str] | tuple[str, ...] | str | None = None,
        fail_with: str | None = None,
        fail_on_call: int | None = None,
        delay: float = 0.0,
        **options: Any,
    ) -> None:
        super().__init__(alias=alias, **options)
        if responses is None:
            responses = [DEFAULT_RESPONSE]
        elif isinstance(responses, str):
            responses = [responses]
        if not isinstance(responses, (list, tuple)) or not responses or not all(isinstance(r, str) for r in responses):
            raise RAGImproperlyConfigured(f"{self.option_path('responses')} must be a non-empty list of strings.")
        if fail_with is not None and fail_with not in FAILURES:
            raise RAGImproperlyConfigured(
                f"{self.option_path('fail_with')} must be one of {', '.join(map(repr, FAILURES))} or None, "
                f"not {fail_with!r}."
            )
        self.responses = list(responses)
        self.fail_with = fail_with
        self.fail_on_call = self.option_number(fail_on_call, "fail_on_call", integer=True, allow_none=True)
        self.delay = self.option_number(delay, "delay", allow_zero=True)
        #: The messages of every call, in order (failed calls included).
        self.calls: list[list[dict[str, str]]] = []
        #: ``{"max_tokens", "temperature", "stream"}`` of every call, in the same order.
        self.call_options: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the calls and start the responses again from the first."""
        with self._lock:
            self.calls.clear()
            self.call_options.clear()

    def _record(self, messages: list[dict[str, str]], *, stream: bool, **params: Any) -> tuple[int, str]:
        with self._lock:
            self.calls.append(messages)
            self.call_options.append({**params, "stream": stream})
            number = len(self.calls)
        return number, self.responses[(number - 1) % len(self.responses)]

    def _fails(self, number: int) -> LLMError | None:
        if self.fail_with is None or self.fail_on_call not in (None, number):
            return None
        return FAILURES[self.fail_with](
            f"LLM {self.alias!r} (testing): scripted failure {self.fail_with!r} on call {number} "
            f"({self.option_path('fail_with')}).",
            alias=self.alias,
        )

    def _completion(self, messages: list[dict[str, str]], text: str) -> Completion:
        usage = {
            "input_tokens": sum(count_words(m["content"]) for m in messages),
            "output_tokens": count_words(text),
        }
        return Completion(text=text, usage=usage, model=self.model_name)

    def _generate(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> Completion:
        number, text = self._record(messages, stream=False, max_tokens=max_tokens, temperature=temperature)
        if self.delay:
            time.sleep(self.delay)
        if error := self._fails(number):
            raise error
        return self._completion(messages, text)

    def _stream(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> Iterator[str | Completion]:
        number, text = self._record(messages, stream=True, max_tokens=max_tokens, temperature=temperature)
        if self.delay:
            time.sleep(self.delay)
        if error := self._fails(number):
            raise error
        yield from chunk_words(text)
        yield self._completion(messages, text)

    # Native async twins: waiting in the event loop, not in a worker thread.

    async def _agenerate(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> Completion:
        number, text = self._record(messages, stream=False, max_tokens=max_tokens, temperature=temperature)
        if self.delay:
            await asyncio.sleep(self.delay)
        if error := self._fails(number):
            raise error
        return self._completion(messages, text)

    async def _astream(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> AsyncIterator[str | Completion]:
        number, text = self._record(messages, stream=True, max_tokens=max_tokens, temperature=temperature)
        if self.delay:
            await asyncio.sleep(self.delay)
        if error := self._fails(number):
            raise error
        for piece in chunk_words(text):
            yield piece
        yield self._completion(messages, text)
