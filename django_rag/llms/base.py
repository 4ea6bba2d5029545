from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from asgiref.sync import sync_to_async
from ..backends import BaseBackend
from ..backends import option_number as option_number  # importable from here, as before
from ..exceptions import LLMBadResponse

#: The roles a message may have, as in every chat API.
ROLES = ("system", "user", "assistant")

Messages = Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class Completion:
    """What an LLM answered.

    ``usage`` is ``{"input_tokens": n, "output_tokens": m}`` when the provider reports
    token counts, else None. ``model`` is the model that answered, as the provider names
    it (it can be more precise than the configured one, e.g. a dated snapshot).
    """

    text: str
    usage: dict[str, int] | None = None
    model: str = ""


def checked_completion(completion: Any, alias: str) -> Completion:
    """``completion`` if a backend returned a real one, else a clear :class:`LLMBadResponse`.

    A site's own backend (or a provider library) that returns None, a bare string or a
    Completion whose text is not a string would otherwise fail far away, in the citation
    parser or the log, as a TypeError.
    """
    if not isinstance(completion, Completion):
        raise LLMBadResponse(f"LLM {alias!r} returned a {type(completion).__name__}, not a Completion.", alias=alias)
    if not isinstance(completion.text, str):
        raise LLMBadResponse(
            f"LLM {alias!r} returned a Completion whose text is a {type(completion.text).__name__}, not a string.",
            alias=alias,
        )
    usage = completion.usage if isinstance(completion.usage, dict) else None
    if "\x00" in completion.text or usage is not completion.usage:
        # PostgreSQL text cannot hold NUL: the answer's QueryLog row would fail to save.
        return Completion(text=completion.text.replace("\x00", ""), usage=usage, model=completion.model)
    return completion


_Pieces = TypeVar("_Pieces", Iterator["str | Completion"], AsyncIterator["str | Completion"])


class _ReceivedCompletion(Generic[_Pieces]):
    """What :class:`TextStream` and :class:`AsyncTextStream` share: the text received so
    far, and the :class:`Completion` made of it once the backend's ``pieces`` run out."""

    def __init__(
        self, pieces: _Pieces, *, model: str, on_finish: Callable[[Completion], Any] | None = None,
        alias: str = "",
    ) -> None:
        self._pieces: _Pieces = pieces
        self._alias = alias
        self._parts: list[str] = []
        self._final: Completion | None = None
        self._model = model
        self._on_finish = on_finish
        #: The whole completion, set when the stream is exhausted.
        self.completion: Completion | None = None

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._parts)

    @property
    def usage(self) -> dict[str, int] | None:
        return self.completion.usage if self.completion else None

    def _take(self, piece: str | Completion) -> bool:
        """Record ``piece``; True when it is text to hand to the reader."""
        if isinstance(piece, Completion):
            # A backend's stream may end with a Completion carrying the usage and model.
            self._final = checked_completion(piece, self._alias)
            return False
        if not piece:
            return False
        if not isinstance(piece, str):
            raise LLMBadResponse(
                f"LLM {self._alias!r}: its stream sent a {type(piece).__name__}, not text.", alias=self._alias
            )
        if "\x00" in piece:
            piece = piece.replace("\x00", "")
        self._parts.append(piece)
        return True

    def _finish(self) -> None:
        if self.completion is None:
            final = self._final
            self.completion = Completion(
                text="".join(self._parts),
                usage=final.usage if final else None,
                model=(final.model if final and final.model else self._model),
            )
            if self._on_finish is not None:
                self._on_finish(self.completion)


class TextStream(_ReceivedCompletion[Iterator[str | Completion]], Iterator[str]):
    """The text of a completion, piece by piece, as the provider sends it.

    Iterate it for the text deltas (never empty strings). Once it is exhausted,
    :attr:`completion` holds the whole :class:`Completion`, with the token usage when
    the provider reports it. Close it to stop early: the provider connection is released.
    """

    def __iter__(self) -> TextStream:
        return self

    def __next__(self) -> str:
        while True:
            try:
                piece = next(self._pieces)
            except StopIteration:
                self._finish()
                raise
            if self._take(piece):
                return self._parts[-1]  # the piece as recorded (cleaned)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


class AsyncTextStream(_ReceivedCompletion[AsyncIterator[str | Completion]], AsyncIterator[str]):
    """The async twin of :class:`TextStream`: ``async for piece in llm.astream(...)``."""

    def __aiter__(self) -> AsyncTextStream:
        return self

    async def __anext__(self) -> str:
        while True:
            try:
                piece = await self._pieces.__anext__()
            except StopAsyncIteration:
                self._finish()
                raise
            if self._take(piece):
                return self._parts[-1]  # the piece as recorded (cleaned)

    async def aclose(self) -> None:
        aclose = getattr(self._pieces, "aclose", None)
        if aclose is not None:
            await aclose()


_DONE = object()
_WORD_PIECE = re.compile(r"\s*\S+\s*|\s+")


def _next_or_done(iterator: Iterator[Any]) -> Any:
    # StopIteration cannot cross a Future (asyncio turns it into a RuntimeError), so the
    # end of the iterator is signalled by a sentinel instead.
    return next(iterator, _DONE)


def chunk_words(text: str) -> Iterator[str]:
    """Split ``text`` into word-sized pieces (each with its trailing spaces) that join back to it."""
    return iter(_WORD_PIECE.findall(text))


class BaseLLM(BaseBackend):
    """Answers chat messages.

    Call :meth:`generate` (or :meth:`stream`, :meth:`agenerate`, :meth:`astream`) with a
    list of ``{"role": "system" | "user" | "assistant", "content": "..."}`` messages.
    The public methods check the messages and options, then call the methods a
    subclass provides, the way Django's ``Storage.save()`` calls ``_save()``:

    - :meth:`_generate` (required) returns a :class:`Completion`;
    - :meth:`_stream` yields text pieces and may end with a :class:`Completion` carrying
      the usage (default: one piece, the whole :meth:`_generate` text);
    - :meth:`_agenerate` and :meth:`_astream` (default: the sync ones in a worker thread).

    Provider failures raise :class:`~django_rag.exceptions.LLMError` or its subclasses
    :class:`~django_rag.exceptions.LLMTimeout`, :class:`~django_rag.exceptions.LLMUnavailable`
    and :class:`~django_rag.exceptions.LLMBadResponse`.
    """

    setting_name = "LLMS"
    kind = "LLM"
    #: False for a backend that cannot write new text (the extractive one): callers
    #: then do not ask it to rewrite a follow-up question.
    can_condense: bool = True
    def __init__(self, *, alias: str, **options: Any) -> None:
        super().__init__(alias=alias, **options)
        # Per thread and per asyncio task: concurrent requests never see each other's usage.
        self._last_usage: ContextVar[dict[str, int] | None] = ContextVar(
            f"django_rag.llms.{alias}.last_usage", default=None
        )

    # The identity (e.g. ``openai:gpt-4o-mini``) is logged with each answer and is part
    # of cache keys.

    @property
    def last_usage(self) -> dict[str, int] | None:
        """The usage of the last call completed in this thread or task (a finished stream counts)."""
        return self._last_usage.get()

    # -- the public API ---------------------------------------------------------------

    def generate(
        self, messages: Messages, *, max_tokens: int | None = None, temperature: float | None = None
    ) -> Completion:
        """Answer ``messages`` in one piece."""
        cleaned = self.clean_messages(messages)
        params = self.clean_params(max_tokens, temperature)
        completion = checked_completion(self._generate(cleaned, **params), self.alias)
        self._last_usage.set(completion.usage)
        return completion

    def stream(
        self, messages: Messages, *, max_tokens: int | None = None, temperature: float | None = None
    ) -> TextStream:
        """Answer ``messages`` piece by piece; see :class:`TextStream`."""
        cleaned = self.clean_messages(messages)
        params = self.clean_params(max_tokens, temperature)
        return TextStream(
            iter(self._stream(cleaned, **params)), model=self.model_name, on_finish=self._record_usage,
            alias=self.alias,
        )

    async def agenerate(
        self, messages: Messages, *, max_tokens: int | None = None, temperature: float | None = None
    ) -> Completion:
        cleaned = self.clean_messages(messages)
        params = self.clean_params(max_tokens, temperature)
        completion = checked_completion(await self._agenerate(cleaned, **params), self.alias)
        self._last_usage.set(completion.usage)
        return completion

    def astream(
        self, messages: Messages, *, max_tokens: int | None = None, temperature: float | None = None
    ) -> AsyncTextStream:
        """``async for piece in llm.astream(messages)``; see :class:`AsyncTextStream`."""
        cleaned = self.clean_messages(messages)
        params = self.clean_params(max_tokens, temperature)
        return AsyncTextStream(
            self._astream(cleaned, **params).__aiter__(), model=self.model_name, on_finish=self._record_usage,
            alias=self.alias,
        )

    def _record_usage(self, completion: Completion) -> None:
        self._last_usage.set(completion.usage)

    # -- what a subclass provides -------------------------------------------------------

    def _generate(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> Completion:
        raise NotImplementedError(
            f"{type(self).__name__} must implement _generate(messages, *, max_tokens, temperature) -> Completion."
        )

    def _stream(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> Iterator[str | Completion]:
        completion = checked_completion(
            self._generate(messages, max_tokens=max_tokens, temperature=temperature), self.alias
        )
        yield completion.text
        yield completion

    async def _agenerate(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> Completion:
        # Not thread-sensitive: an LLM call touches no database connection, and Django's
        # single thread-sensitive executor would make concurrent requests wait in line.
        return await sync_to_async(self._generate, thread_sensitive=False)(
            messages, max_tokens=max_tokens, temperature=temperature
        )

    async def _astream(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> AsyncIterator[str | Completion]:
        iterator = iter(self._stream(messages, max_tokens=max_tokens, temperature=temperature))
        step = sync_to_async(_next_or_done, thread_sensitive=False)
        try:
            while (piece := await step(iterator)) is not _DONE:
                yield piece
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                # Shielded: closing releases the provider connection even when the task
                # reading the stream is cancelled (a client that went away).
                await asyncio.shield(sync_to_async(close, thread_sensitive=False)())

    # -- validation -------------------------------------------------------------------

    def clean_messages(self, messages: Messages) -> list[dict[str, str]]:
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
            raise TypeError(
                'messages must be a list of {"role": ..., "content": ...} dicts, '
                f"not {type(messages).__name__}."
            )
        if not messages:
            raise ValueError("messages must not be empty.")
        cleaned = []
        for n, message in enumerate(messages):
            if not isinstance(message, Mapping):
                raise TypeError(f"messages[{n}] must be a dict with role and content, not {type(message).__name__}.")
            role, content = message.get("role"), message.get("content")
            if role not in ROLES:
                raise ValueError(f"messages[{n}]['role'] must be one of {', '.join(ROLES)}, not {role!r}.")
            if not isinstance(content, str):
                raise TypeError(f"messages[{n}]['content'] must be a string, not {type(content).__name__}.")
            cleaned.append({"role": role, "content": content})
        return cleaned

    @staticmethod
    def clean_params(max_tokens: Any, temperature: Any) -> dict[str, Any]:
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0
        ):
            raise ValueError(f"max_tokens must be a positive integer or None, not {max_tokens!r}.")
        if temperature is not None and (
            isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0
        ):
            raise ValueError(f"temperature must be a number >= 0 or None, not {temperature!r}.")
        return {"max_tokens": max_tokens, "temperature": temperature}
