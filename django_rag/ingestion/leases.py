"""The lease an ingestion holds on its documents, so a lost worker is noticed.

The pipeline's advisory lock keeps two live workers off one document, but it lives
only as long as the worker's database session: a worker killed with SIGKILL, or whose
connection was cut, leaves its document ``processing`` with nobody working on it, and
a broker may well drop the task of a worker that died. So an ingestion also writes a
lease on the document row (``lease_owner``, ``lease_expires_at``), renews it while it
embeds, and clears it with the outcome. A document still ``processing`` after its
lease expired is stuck (``Document.objects.stuck()``) and is queued again by
``rag_ingest --stale``, the periodic task ``django_rag.tasks.requeue_stale`` or the
admin's Ingest actions.

The lease is also the fence at commit: the chunk swap checks, in its transaction and
under the row lock, that the lease is still this worker's. A worker that lost its
session (and with it the advisory lock) and came back after another one took the
document over finds the lease gone and drops its work instead of writing over the
newer result.

Taking a lease needs no wait for the old one to expire: whoever holds the advisory
lock knows the previous holder's session has ended.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..conf import get_setting
from ..exceptions import LeaseLost
from ..models import Document

# Renew at most this often, as a share of the lease: a fast embedder must not turn
# every batch into a write, and a lease renewed a third of the way in cannot lapse
# between two renewals unless one batch takes two thirds of it.
_RENEW_FRACTION = 1 / 3


def new_owner() -> str:
    """A name for one ingestion run: the host and pid (for the operator) and a random token."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


def lease_fields(*, owner: str = "") -> dict[str, Any]:
    """The lease columns for a fresh lease held by ``owner``, or cleared (no owner)."""
    if not owner:
        return {"lease_owner": "", "lease_expires_at": None}
    return {"lease_owner": owner, "lease_expires_at": timezone.now() + timedelta(seconds=get_setting("INGEST_LEASE_SECONDS"))}


class Lease:
    """The lease of one ingestion run over ``ids`` (one document, or an ``ingest_many`` batch)."""

    def __init__(self, ids: Iterable[int], using: str) -> None:
        self.ids = set(ids)
        self.using = using
        self.owner = new_owner()
        self._renewed = 0.0

    def claim(self, **fields: object) -> None:
        """Take the lease (the caller holds the documents' advisory locks) and write ``fields``."""
        now = timezone.now()
        Document.objects.using(self.using).filter(pk__in=self.ids).update(
            **lease_fields(owner=self.owner), **fields, updated_at=now
        )
        self._renewed = time.monotonic()

    def renew(self, *, force: bool = False) -> None:
        """Push the expiry on; raise :class:`LeaseLost` when another worker took a document over.

        In a batch, a document taken over is dropped from the lease (its work is
        skipped at the write) and the others go on; :meth:`lost` tells which.
        """
        seconds = get_setting("INGEST_LEASE_SECONDS")
        if not self.ids or (not force and time.monotonic() - self._renewed < seconds * _RENEW_FRACTION):
            return
        with transaction.atomic(using=self.using):
            kept = set(
                Document.objects.using(self.using)
                .filter(pk__in=self.ids, lease_owner=self.owner)
                .values_list("pk", flat=True)
            )
            Document.objects.using(self.using).filter(pk__in=kept).update(
                lease_expires_at=timezone.now() + timedelta(seconds=seconds)
            )
        self._renewed = time.monotonic()
        lost = self.ids - kept
        if lost:
            self.ids = kept
            self._lost = getattr(self, "_lost", set()) | lost
            if not kept:
                raise LeaseLost(
                    f"Document {min(lost)} was taken over by another worker after this one's lease expired."
                )

    def lost(self) -> set[int]:
        return getattr(self, "_lost", set())

    def held(self, ids: Iterable[int]) -> tuple[set[int], set[int]]:
        """``(alive, ours)``: of ``ids``, the documents that still exist, and those whose
        row still names this lease. Call it inside the write transaction.

        Locks the rows (``FOR UPDATE``), so a concurrent delete waits for the commit
        and no other worker can take the lease between this check and the commit.
        """
        owners = dict(
            Document.objects.using(self.using)
            .select_for_update()
            .filter(pk__in=list(ids))
            .values_list("pk", "lease_owner")
        )
        return set(owners), {pk for pk, owner in owners.items() if owner == self.owner}
