"""The visibility rules of docs/permissions.md, restated in plain Python.

The tests compare what the SQL filters return with what this independent statement of
the rules says, row by row.
"""

from __future__ import annotations

from typing import Any

from django_rag.models import Collection, Document


def _admits(user: Any, row: Collection | Document) -> bool:
    if row.visibility in ("public", "inherit"):
        return True
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if row.visibility == "users":
        return True
    group_ids = set(user.groups.values_list("pk", flat=True))
    return row.owner_id == user.pk or bool(group_ids & set(row.groups.values_list("pk", flat=True)))


def may_see(user: Any, document: Document) -> bool:
    """True when the built-in rules let ``user`` see ``document``."""
    if user is not None and user.is_authenticated and user.is_active and user.is_superuser:
        return True
    collection_ok = document.collection is None or _admits(user, document.collection)
    return collection_ok and _admits(user, document)


def visible_document_ids(user: Any) -> set[int]:
    documents = Document.objects.select_related("collection").prefetch_related("groups", "collection__groups")
    return {d.pk for d in documents if may_see(user, d)}


def may_see_collection(user: Any, collection: Collection) -> bool:
    """True when the built-in rules let ``user`` see ``collection`` (list it, pick it in a form)."""
    if user is not None and user.is_authenticated and user.is_active and user.is_superuser:
        return True
    return _admits(user, collection)
