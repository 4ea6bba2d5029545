"""Which embedder searches use, and which embedders' vectors are in the side table, as
this process sees it (the ``EmbedderState`` rows, read at most once per
``EMBEDDER_STATE_TTL``). With retrieval, below the models, because every search reads
it: the ``EmbedderState`` model is looked up in the app registry rather than imported.
Re-embedding itself (``django_rag.reembed``) writes the rows."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.apps import apps
from django.db import ProgrammingError, router, transaction

from .conf import DEFAULT_EMBEDDER_ALIAS, get_setting
from .embedders import BaseEmbedder

if TYPE_CHECKING:
    from .models import EmbedderState

logger = logging.getLogger("django_rag.reembed")

SIDE_TABLE = "django_rag_chunk_embedding"


@dataclass(frozen=True)
class Snapshot:
    """The embedder state of one database at one moment."""

    active: str = DEFAULT_EMBEDDER_ALIAS
    #: identity -> alias, for the embedders whose vectors are in the side table.
    side: dict[str, str] = field(default_factory=dict)
    #: alias -> identity recorded, for every row.
    identities: dict[str, str] = field(default_factory=dict)


_snapshots: dict[str, tuple[float, Snapshot]] = {}


def _state_model() -> type[EmbedderState]:
    # Through the app registry: this module sits below the models (tests/test_layers.py).
    return apps.get_model("django_rag", "EmbedderState")


def state_database() -> str:
    return router.db_for_write(_state_model())


def snapshot(using: str | None = None) -> Snapshot:
    """The state of ``using``, read at most once per ``EMBEDDER_STATE_TTL`` seconds per process."""
    using = using or state_database()
    now = time.monotonic()
    cached = _snapshots.get(using)
    if cached is not None and cached[0] > now:
        return cached[1]
    state = _load(using)
    _snapshots[using] = (now + float(get_setting("EMBEDDER_STATE_TTL")), state)
    return state


def clear_cache() -> None:
    """Forget the state read so far: the next search reads it again."""
    _snapshots.clear()


def _load(using: str) -> Snapshot:
    EmbedderState = _state_model()  # noqa: N806 (a model class)
    try:
        # A savepoint, so that a missing table (migrations not applied yet) does not
        # leave the caller's transaction aborted.
        with transaction.atomic(using=using):
            rows = list(EmbedderState.objects.using(using).values_list("alias", "identity", "active", "side_table"))
    except ProgrammingError:
        logger.warning("The embedder state table is missing: run `manage.py migrate`.")
        return Snapshot()
    active = next((alias for alias, _identity, is_active, _side in rows if is_active), DEFAULT_EMBEDDER_ALIAS)
    return Snapshot(
        active=active,
        side={identity: alias for alias, identity, _active, side in rows if side},
        identities={alias: identity for alias, identity, _active, _side in rows},
    )


def active_alias(using: str | None = None) -> str:
    """The alias searches use when they are not given an embedder."""
    return snapshot(using).active


def in_side_table(embedder: BaseEmbedder, using: str | None = None) -> bool:
    """Whether ``embedder``'s vectors are searched in the side table rather than in ``Chunk.embedding``."""
    return embedder.identity in snapshot(using).side


