"""django-rag: retrieval-augmented generation for Django, in your own PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# The public functions live in their own modules, which need Django's apps loaded. So
# that ``import django_rag`` (and ``from django_rag import ask`` in a models.py) works
# before that, each name here is a stand-in that imports its module on first call. Type
# checkers, IDEs and the API reference see the real functions (the TYPE_CHECKING import);
# after the first call, ``inspect.signature()`` and ``help()`` find the real one too.

import functools
import importlib
from collections.abc import Callable

if TYPE_CHECKING:
    # "import X as X": re-exported names, for mypy's strict mode.
    from .evaluation.runner import evaluate as evaluate
    from .generation import aask as aask
    from .generation import ask as ask
    from .generation import stream as stream
    from .ingestion import ingest as ingest
    from .ingestion import ingest_many as ingest_many
    from .registry import register as register
    from .registry import reindex_model as reindex_model
    from .registry import unregister as unregister
    from .routing import read_from_primary as read_from_primary
    from .shortcuts import search as search


def _imported_on_first_call(module: str, name: str) -> Callable[..., Any]:
    """A function standing for ``module.name``, importing ``module`` when first called."""
    real: Callable[..., Any] | None = None

    def resolve() -> Callable[..., Any]:
        nonlocal real
        if real is None:
            real = getattr(importlib.import_module(module), name)
            functools.update_wrapper(stand_in, real)  # the real signature and docstring from now on
        return real

    def call(*args: Any, **kwargs: Any) -> Any:
        return resolve()(*args, **kwargs)

    async def call_async(*args: Any, **kwargs: Any) -> Any:
        return await resolve()(*args, **kwargs)

    stand_in = call_async if name == "aask" else call
    stand_in.__name__ = stand_in.__qualname__ = name
    stand_in.__module__ = __name__
    stand_in.__doc__ = f"``{module}.{name}``, imported when first called: see its documentation."
    return stand_in


#: Each public name and the module that defines it.
PUBLIC_FUNCTIONS = {
    "ingest": "django_rag.ingestion",
    "ingest_many": "django_rag.ingestion",
    "search": "django_rag.shortcuts",
    "ask": "django_rag.generation",
    "stream": "django_rag.generation",
    "aask": "django_rag.generation",
    "read_from_primary": "django_rag.routing",
    "evaluate": "django_rag.evaluation.runner",
    "register": "django_rag.registry",
    "unregister": "django_rag.registry",
    "reindex_model": "django_rag.registry",
}

if not TYPE_CHECKING:
    globals().update({name: _imported_on_first_call(module, name) for name, module in PUBLIC_FUNCTIONS.items()})

__all__ = [
    "__version__", "aask", "ask", "evaluate", "ingest", "ingest_many", "read_from_primary", "register",
    "reindex_model", "search", "stream", "unregister",
]
