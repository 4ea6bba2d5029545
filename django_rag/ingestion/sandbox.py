"""Parse untrusted files in a child process with CPU, memory and wall-clock limits.

A small crafted PDF can cost pypdf seconds to minutes of CPU, or gigabytes of memory
(a compressed stream that inflates without end). Such a file must fail its own
document, never stall or kill the worker that ingests it. So parser-heavy formats are
extracted by a fresh Python process (``python -m django_rag.ingestion.sandbox``) that
limits itself before it reads a byte:

- ``RLIMIT_CPU`` at ``MAX_EXTRACT_SECONDS`` (the kernel stops a runaway parser),
- ``RLIMIT_AS`` at ``MAX_EXTRACT_MEMORY_MB`` (allocation fails with MemoryError),
- and the parent kills it when ``MAX_EXTRACT_SECONDS`` of wall-clock time have passed
  (a parser that sleeps or waits uses no CPU).

A fresh interpreter rather than ``fork()``: workers are threaded (and django-q2's are
daemonic processes, which multiprocessing forbids to have children), and a forked
child of a threaded process can deadlock on a lock another thread held. The child
answers in JSON, not pickle, so even a parser that an attacker took over cannot make
the parent run code. Starting it costs about a tenth of a second (see
benchmarks/RESULTS.md), paid by PDFs only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from .. import exceptions
from ..exceptions import ExtractionLimitExceeded, IngestionError

if TYPE_CHECKING:
    from .extractors import Extracted

# The errors a child may report, by name; anything else becomes ExtractionLimitExceeded.
_ERRORS = {
    cls.__name__: cls
    for cls in (
        exceptions.CorruptFile, exceptions.EncryptedFile, exceptions.EmptyDocument, exceptions.FileTooLarge,
        exceptions.UnsupportedFileType, exceptions.BinaryContent, ExtractionLimitExceeded,
    )
}


def extract_in_subprocess(
    data: bytes, *, format: str, max_length: int | None, max_pages: int | None, seconds: float, memory_mb: int | None,
    extractor: str = "django_rag.ingestion.extractors.pdf.PDFExtractor",
) -> Extracted:
    """The extractor at the dotted path ``extractor`` in a limited child; returns an ``Extracted``.

    The child imports it without a Django project: a site's sandboxed extractor must be
    importable that way.
    """
    from .extractors import Extracted, Section

    request = json.dumps({
        "extractor": extractor, "format": format, "max_length": max_length, "max_pages": max_pages,
        "seconds": seconds, "memory_mb": memory_mb,
    }).encode()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the child needs no Django project
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-I", "-m", "django_rag.ingestion.sandbox"] if _isolated_ok() else
        [sys.executable, "-m", "django_rag.ingestion.sandbox"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        stdout, stderr = process.communicate(request + b"\n" + data, timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise ExtractionLimitExceeded(
            f"Extraction took longer than {seconds:g} s (DJANGO_RAG['MAX_EXTRACT_SECONDS']) and was stopped."
        ) from None
    elapsed = time.monotonic() - started
    if process.returncode != 0:
        if process.returncode in (-signal.SIGXCPU, -signal.SIGKILL) or elapsed >= seconds * 0.9:
            raise ExtractionLimitExceeded(
                f"Extraction used more than {seconds:g} s of CPU (DJANGO_RAG['MAX_EXTRACT_SECONDS']) and was stopped."
            )
        detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise ExtractionLimitExceeded(f"The extraction process failed (exit {process.returncode}: {detail[0][:200]}).")
    try:
        answer = json.loads(stdout)
    except ValueError:
        raise ExtractionLimitExceeded("The extraction process answered something that is not JSON.") from None
    if "error" in answer:
        error_class = _ERRORS.get(answer["error"], ExtractionLimitExceeded)
        raise error_class(str(answer.get("message", ""))[:2000])
    return Extracted(
        answer["format"], [Section(s["text"], s["metadata"]) for s in answer["sections"]], answer["metadata"]
    )


def _isolated_ok() -> bool:
    # -I (isolated mode) drops the current directory and PYTHONPATH from sys.path; only
    # safe when django_rag is installed where the interpreter finds it by itself.
    return not os.environ.get("PYTHONPATH")


def _limit_self(seconds: float, memory_mb: int | None) -> None:
    import resource

    cpu = max(1, int(seconds + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if memory_mb:
        limit = int(memory_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _main() -> None:
    header = sys.stdin.buffer.readline()
    request = json.loads(header)
    _limit_self(request["seconds"], request["memory_mb"])
    data = sys.stdin.buffer.read()
    from importlib import import_module

    from .extractors import Extractor, Limits

    try:
        module, _, name = str(request.get("extractor", "")).rpartition(".")
        try:
            found = getattr(import_module(module), name) if module else None
        except (ImportError, AttributeError):
            found = None
        if not (isinstance(found, type) and issubclass(found, Extractor) and getattr(found, "sandboxed", False)):
            raise ExtractionLimitExceeded(f"No sandboxed extractor {request.get('extractor')!r}.")
        # The child's own RLIMIT_CPU bounds the time; no deadline between pages is needed.
        extracted = found().extract(data, Limits(max_length=request["max_length"], max_pages=request["max_pages"]))
        answer = {
            "format": extracted.format, "metadata": extracted.metadata,
            "sections": [{"text": s.text, "metadata": s.metadata} for s in extracted.sections],
        }
    except MemoryError:
        answer = {"error": "ExtractionLimitExceeded", "message": (
            f"Extraction needed more than {request['memory_mb']} MB of memory "
            "(DJANGO_RAG['MAX_EXTRACT_MEMORY_MB']) and was stopped."
        )}
    except IngestionError as exc:
        answer = {"error": type(exc).__name__, "message": str(exc)}
    out = json.dumps(answer).encode()
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _main()
