"""Background work: one ``enqueue()`` for everything django-rag runs later.

A task is named by the dotted path of a plain function taking JSON-serialisable
arguments, so any queue can carry it. Interim: tasks run inline (the ``"sync"``
queue); the surfaces work (issue 5) adds django-q2 behind this same function.
"""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string


def enqueue(task: str, *args: Any, **kwargs: Any) -> Any:
    """Run ``task`` (a dotted path to a function) with these arguments, now or on a queue."""
    return import_string(task)(*args, **kwargs)
