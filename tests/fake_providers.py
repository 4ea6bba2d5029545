"""A small HTTP server on 127.0.0.1 that speaks the OpenAI and Ollama wire formats.

Tests point the *real* ``langchain-openai`` and ``langchain-ollama`` clients at it, so
what is tested is the actual request building, parsing, retries and timeouts of those
clients, not a mock of them. It implements only what django-rag uses:

- OpenAI ``POST /v1/embeddings`` and ``POST /v1/chat/completions`` (JSON or SSE stream),
- Ollama ``POST /api/embed`` and ``POST /api/chat`` (NDJSON stream or one JSON object).

Embeddings are deterministic functions of the input text (:func:`fake_vector`), so a test
can check that each stored vector belongs to its own chunk. Every request is recorded,
and faults can be scripted for the next requests::

    with FakeProvider() as fake:
        fake.fail("status", status=500)           # the next request gets HTTP 500
        fake.fail("hang", seconds=5, times=2)     # the two after it hang for 5 s
        fake.chat_replies.append("Twenty days.")  # the next chat answer
        fake.fail("status", status=500, skip=2)   # the third request from now gets HTTP 500
        fake.delay = 0.2                          # every request waits 0.2 s (a slow provider)
        ... fake.url ..., fake.requests[-1].json

Fault kinds: ``status`` (``status=``, ``retry_after=`` seconds for 429s), ``hang``
(``seconds=``), ``malformed`` (HTTP 200 with a body that is not JSON), ``wrong_dimension``
(vectors one shorter than asked), ``close`` (drop the connection without a reply) and
``unauthorized`` (HTTP 401 whose message echoes the bearer token back, as careless
proxies do, to prove django-rag redacts it). For chat requests also: ``wrong_shape``
(HTTP 200, valid JSON, but no completion in it), ``malformed_stream`` (a stream whose
second piece is not JSON), ``cut`` (a chunked stream whose connection drops after ``after=``
pieces, without the last chunk: what a crashed upstream does mid-answer) and ``stall`` (a
stream that stops after ``after=`` pieces for
``seconds=``).

Chat replies report usage with word counts standing in for tokens: the words of all the
request's messages in, the words of the reply out (OpenAI ``usage``, also as a last stream
chunk when the request asks for ``stream_options.include_usage``; Ollama
``prompt_eval_count`` and ``eval_count``).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Native sizes of the models tests name; an unknown model gets DEFAULT_DIMENSIONS.
MODEL_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
}
DEFAULT_DIMENSIONS = 64

FAULT_KINDS = {
    "status", "hang", "malformed", "wrong_dimension", "close", "unauthorized",
    # chat only: they shape the reply instead of replacing it
    "wrong_shape", "malformed_stream", "stall", "cut",
}


def fake_vector(text: str, dimensions: int) -> list[float]:
    """The unit vector the fake server returns for ``text``: SHA-256 in counter mode."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        block = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        # Eight 4-byte words per block, mapped to [-1, 1).
        values.extend(x / 2**31 - 1.0 for x in struct.unpack(">8I", block))
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def input_key(item: Any) -> str:
    """The text a vector is derived from: the string, or a token array spelled out.

    ``OpenAIEmbeddings`` sends token arrays (lists of ints) when it checks the context
    length with tiktoken; django-rag turns that off, but the server accepts both.
    """
    if isinstance(item, str):
        return item
    if isinstance(item, list) and all(isinstance(t, int) for t in item):
        return "tokens:" + ",".join(map(str, item))
    raise ValueError(f"unsupported input item {item!r}")


def normalise_inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(t, int) for t in value):
        return [input_key(value)]  # one token array
    if isinstance(value, list):
        return [input_key(item) for item in value]
    raise ValueError(f"unsupported input {value!r}")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    json: Any


@dataclass
class Fault:
    kind: str
    times: int = 1
    path: str | None = None  # only requests to this path; None: any path
    params: dict[str, Any] = field(default_factory=dict)
    skip: int = 0  # matching requests let through before the fault starts ("at request N")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout test) or was dropped (a "close" fault) resets
        # the connection while the handler waits for its next request: not an error.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class FakeProvider:
    """Threaded fake of the OpenAI and Ollama HTTP APIs; use it as a context manager."""

    def __init__(self, *, chat_reply: str = "This is a scripted answer.") -> None:
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        #: Replies for the next chat requests, used first to last; then ``chat_reply``.
        self.chat_replies: list[str] = []
        self.chat_reply = chat_reply
        #: Seconds every request waits before it is answered (a slow provider).
        self.delay = 0.0
        self._lock = threading.Lock()
        # Set on shutdown so a scripted hang ends at once instead of holding a thread.
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> FakeProvider:
        handler = type("Handler", (_Handler,), {"provider": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop to notice, 0.5 s by default.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-provider", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stopping.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeProvider as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        """The ``base_url`` for OpenAI clients (they append ``/embeddings``)."""
        return self.url + "/v1"

    # -- scripting -----------------------------------------------------------------

    def fail(self, kind: str, *, times: int = 1, path: str | None = None, skip: int = 0, **params: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        with self._lock:
            self.faults.append(Fault(kind, times, path, params, skip))

    def reset(self) -> None:
        """Forget requests, scripted faults and replies: a server shared by several tests."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self.chat_replies.clear()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.path in (None, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.times -= 1
                    return fault
        return None

    def _next_chat_reply(self) -> str:
        with self._lock:
            return self.chat_replies.pop(0) if self.chat_replies else self.chat_reply


def _chunks(text: str) -> Iterator[str]:
    """Split a reply into word-sized stream pieces that join back to the exact text."""
    piece = ""
    for char in text:
        piece += char
        if char == " ":
            yield piece
            piece = ""
    if piece:
        yield piece


class _Handler(BaseHTTPRequestHandler):
    provider: FakeProvider
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        try:
            self._handle_post()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test) before the reply was written

    def _handle_post(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.provider.requests.append(RecordedRequest("POST", self.path, headers, body))

        if self.provider.delay:
            self.provider._stopping.wait(self.provider.delay)
        fault = self.provider._take_fault(self.path)
        self.fault = fault
        if fault is not None and self._apply_fault(fault, headers):
            return
        routes = {
            "/v1/embeddings": self._openai_embeddings,
            "/v1/chat/completions": self._openai_chat,
            "/api/embed": self._ollama_embed,
            "/api/chat": self._ollama_chat,
        }
        route = routes.get(self.path)
        if route is None:
            return self._error(404, f"no route {self.path}")
        if not isinstance(body, dict):
            return self._error(400, "the body must be a JSON object")
        short = fault.kind == "wrong_dimension" if fault else False
        try:
            route(body, short)
        except ValueError as exc:
            self._error(400, str(exc))

    # -- faults --------------------------------------------------------------------

    def _apply_fault(self, fault: Fault, headers: dict[str, str]) -> bool:
        """Act out ``fault``; return True when the reply has been handled."""
        if fault.kind == "hang":
            # Wait, then answer normally: the client should have given up by then.
            self.provider._stopping.wait(fault.params.get("seconds", 5.0))
            return False
        if fault.kind == "status":
            status = fault.params.get("status", 500)
            extra = {}
            if "retry_after" in fault.params:
                # The OpenAI SDK honours retry-after-ms, which keeps retry tests fast.
                extra["retry-after-ms"] = str(int(fault.params["retry_after"] * 1000))
            self._error(status, fault.params.get("message", f"scripted HTTP {status}"), extra)
            return True
        if fault.kind == "unauthorized":
            token = headers.get("authorization", "").removeprefix("Bearer ")
            self._error(401, f"Incorrect API key provided: {token}.")
            return True
        if fault.kind == "malformed":
            self._send(200, b'{"data": [{"embedding": [0.1, 0.2', "application/json")
            return True
        if fault.kind == "close":
            # Drop the connection without a status line, like a crashed upstream.
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        return False  # wrong_dimension and the chat-only kinds shape the normal reply

    # -- plumbing ------------------------------------------------------------------

    def _send(self, status: int, data: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", extra)

    def _error(self, status: int, message: str, extra: dict[str, str] | None = None) -> None:
        # Each provider's own error shape: OpenAI nests an object, Ollama sends a string.
        if self.path.startswith("/api/"):
            self._json(status, {"error": message}, extra)
        else:
            self._json(status, {"error": {"message": message, "type": "server_error"}}, extra)

    def _stream(self, content_type: str, lines: Iterator[bytes]) -> None:
        # No Content-Length: the body ends when the connection closes, which every
        # HTTP/1.1 client accepts and keeps the server free of chunked encoding.
        cut = self._chat_fault("cut")
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        if cut is not None:
            # Chunked, as real providers stream: a connection dropped before the last
            # chunk is then an incomplete body, which the client can tell from an end.
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        for n, line in enumerate(lines):
            if cut is not None:
                if n == cut.params.get("after", 2):
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                line = b"%x\r\n%s\r\n" % (len(line), line)
            self.wfile.write(line)
            self.wfile.flush()
        if cut is not None:
            self.wfile.write(b"0\r\n\r\n")

    def _chat_fault(self, *kinds: str) -> Fault | None:
        fault = getattr(self, "fault", None)
        return fault if fault is not None and fault.kind in kinds else None

    def _stream_pieces(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        """Apply a ``malformed_stream`` or ``stall`` fault to a stream's pieces."""
        broken = self._chat_fault("malformed_stream")
        stall = self._chat_fault("stall")
        for n, piece in enumerate(pieces):
            if broken is not None and n == 2:
                yield (b"data: " if piece.startswith(b"data: ") else b"") + b'{"choices": [{"delta": {"cont\n\n'
                return
            if stall is not None and n == stall.params.get("after", 2):
                self.provider._stopping.wait(stall.params.get("seconds", 5.0))
            yield piece

    @staticmethod
    def _chat_usage(body: dict[str, Any], reply: str) -> tuple[int, int]:
        """Word counts standing in for tokens: (prompt, completion)."""
        messages = body.get("messages") or []
        prompt = sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
        return prompt, len(reply.split())

    @staticmethod
    def _dimensions(body: dict[str, Any], short: bool) -> int:
        dims = body.get("dimensions") or MODEL_DIMENSIONS.get(body.get("model", ""), DEFAULT_DIMENSIONS)
        return int(dims) - 1 if short else int(dims)

    # -- OpenAI --------------------------------------------------------------------

    def _openai_embeddings(self, body: dict[str, Any], short: bool) -> None:
        texts = normalise_inputs(body.get("input"))
        dims = self._dimensions(body, short)
        # Always floats: the SDK asks for base64 but accepts floats (see ENVIRONMENT.md).
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(text, dims)} for i, text in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        self._json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _openai_chat(self, body: dict[str, Any], short: bool) -> None:
        reply = self.provider._next_chat_reply()
        model = body.get("model", "gpt-fake")
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": model}
        prompt_tokens, completion_tokens = self._chat_usage(body, reply)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if self._chat_fault("wrong_shape"):
            self._json(200, {**base, "object": "chat.completion", "choices": "none"})
            return
        if not body.get("stream"):
            self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                    ],
                    "usage": usage,
                },
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def events() -> Iterator[bytes]:
            chunk = {**base, "object": "chat.completion.chunk"}
            first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            yield b"data: " + json.dumps({**chunk, "choices": [first]}).encode() + b"\n\n"
            for piece in _chunks(reply):
                choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                yield b"data: " + json.dumps({**chunk, "choices": [choice]}).encode() + b"\n\n"
            last = {"index": 0, "delta": {}, "finish_reason": "stop"}
            yield b"data: " + json.dumps({**chunk, "choices": [last]}).encode() + b"\n\n"
            if include_usage:
                # What OpenAI sends for stream_options.include_usage: a last chunk with
                # no choices and the whole request's usage.
                yield b"data: " + json.dumps({**chunk, "choices": [], "usage": usage}).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"

        self._stream("text/event-stream", self._stream_pieces(events()))

    # -- Ollama --------------------------------------------------------------------

    def _ollama_embed(self, body: dict[str, Any], short: bool) -> None:
        texts = normalise_inputs(body.get("input"))
        dims = self._dimensions(body, short)
        self._json(
            200,
            {
                "model": body.get("model"),
                "embeddings": [fake_vector(text, dims) for text in texts],
                "prompt_eval_count": sum(len(t.split()) for t in texts),
            },
        )

    def _ollama_chat(self, body: dict[str, Any], short: bool) -> None:
        reply = self.provider._next_chat_reply()
        model = body.get("model", "llama-fake")
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        prompt_tokens, completion_tokens = self._chat_usage(body, reply)
        if self._chat_fault("wrong_shape"):
            self._json(200, {"model": model, "created_at": created, "message": "none", "done": True})
            return
        done = {
            "model": model,
            "created_at": created,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": prompt_tokens,
            "eval_count": completion_tokens,
        }
        if body.get("stream") is False:
            self._json(200, {**done, "message": {"role": "assistant", "content": reply}})
            return

        def lines() -> Iterator[bytes]:
            for piece in _chunks(reply):
                message = {"role": "assistant", "content": piece}
                line = {"model": model, "created_at": created, "message": message, "done": False}
                yield json.dumps(line).encode() + b"\n"
            yield json.dumps(done).encode() + b"\n"

        self._stream("application/x-ndjson", self._stream_pieces(lines()))
