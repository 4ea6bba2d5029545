"""Who may see what: the visibility rules, as ``Q`` objects evaluated inside SQL.

Every read path (``visible_to()``, ``search()``, ``ask()``, the answer cache, the admin)
goes through :func:`document_filter`, so one rule governs them all:

- a document is visible when its **collection** admits the user **and** the document's
  own visibility does (``inherit``, the default, adds nothing), **and** the rule of the
  model it was registered from (``django_rag.register(..., visible_to=...)``) does;
- ``public``: everyone, anonymous visitors included; ``users``: any signed-in, active
  user; ``private``: the owner and members of the groups it is shared with;
- superusers see everything the built-in rules govern; anonymous (and inactive) users
  see public rows only. ``user=None`` is treated as an anonymous visitor.

``DJANGO_RAG["ACCESS_POLICY"]`` (a dotted path to ``user -> Q`` over ``Document``)
replaces the built-in collection/document rules; it can call :func:`default_policy`
and combine with it. Registered models' own rules always apply on top.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils.module_loading import import_string

from .conf import get_setting
from .exceptions import RAGImproperlyConfigured

if TYPE_CHECKING:
    from typing import TypeAlias

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    #: Whom a read is for: ``request.user``, or ``None`` for an anonymous visitor.
    Asker: TypeAlias = AbstractBaseUser | AnonymousUser | None


def is_anonymous(user: Any) -> bool:
    # Django's auth backends refuse inactive users; so does django-rag.
    return user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True)


def is_superuser(user: Any) -> bool:
    return not is_anonymous(user) and bool(getattr(user, "is_superuser", False))


def _owned_or_shared(user: Any, model: Any) -> Q:
    """``Q`` over ``model`` (Collection or Document): the user owns the row or is in one of its groups."""
    shared = Q(owner=user.pk)
    if hasattr(user, "groups"):  # custom user models without PermissionsMixin have no groups
        memberships = model.groups.through.objects.filter(group__user=user.pk)
        # A subquery on the through table, not a join on groups: a join would repeat a
        # row once per matching group.
        shared |= Q(pk__in=memberships.values(f"{model._meta.model_name}_id"))
    return shared


def _rule(user: Any, model: Any, *, inherit: bool = False) -> Q:
    from .models import Visibility

    allowed = Q(visibility=Visibility.PUBLIC)
    if inherit:
        allowed |= Q(visibility=Visibility.INHERIT)
    if is_anonymous(user):
        return allowed
    return allowed | Q(visibility=Visibility.USERS) | (Q(visibility=Visibility.PRIVATE) & _owned_or_shared(user, model))


def collection_filter(user: Any) -> Q:
    """``Q`` over ``Collection``: the collections ``user`` may see."""
    from .models import Collection

    if is_superuser(user):
        return Q()
    return _rule(user, Collection)


def has_restrictions(using: str | None = None) -> bool:
    """Whether any collection or document is less than public (one query, two index probes).

    While none is, the built-in rules admit every row for every user, and a filter that
    admits everything would still cost each search a join and worse plans: measured at
    100,000 chunks, it took ask() from 10 to 19 ms (benchmarks/RESULTS.md).
    """
    from django.db import connections

    from .models import Collection, Document, Visibility
    from .routing import read_database

    with connections[using or read_database()].cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT FROM {Collection._meta.db_table} WHERE visibility <> %s)"
            # The same condition as the partial index django_rag_document_restricted.
            f" OR EXISTS (SELECT FROM {Document._meta.db_table} WHERE NOT (visibility IN (%s, %s)))",
            [Visibility.PUBLIC, Visibility.INHERIT, Visibility.PUBLIC],
        )
        return bool(cursor.fetchone()[0])


def default_policy(user: Any) -> Q:
    """The built-in rule as ``Q`` over ``Document``: its collection's and its own visibility."""
    from .models import Collection, Document

    if is_superuser(user) or not has_restrictions():
        # Everything is public: no filter at all (an empty Q), the fast unfiltered path.
        return Q()
    # The visible collections are resolved to a list first: collections are few, and
    # PostgreSQL estimates `collection_id IN (1, 2, 3)` from its statistics, whereas a
    # nested subquery looks like half the table and leads the semantic leg to an HNSW
    # scan that reads thousands of rows to find the few a narrow rule admits.
    from .routing import read_database

    visible_collections = list(
        Collection.objects.using(read_database(Collection)).filter(collection_filter(user)).values_list("pk", flat=True)
    )
    in_visible_collection = Q(collection__isnull=True) | Q(collection_id__in=visible_collections)
    return in_visible_collection & _rule(user, Document, inherit=True)


def get_policy() -> Callable[[Any], Q]:
    """The callable behind ``DJANGO_RAG["ACCESS_POLICY"]`` (the built-in rule when unset)."""
    path = get_setting("ACCESS_POLICY")
    if not path:
        return default_policy
    try:
        policy: Callable[[Any], Q] = import_string(path)  # E055 checks what it returns
        return policy
    except ImportError as exc:
        raise RAGImproperlyConfigured(f'DJANGO_RAG["ACCESS_POLICY"] = {path!r} cannot be imported: {exc}') from exc


def document_filter(user: Any) -> Q:
    """``Q`` over ``Document``: what ``user`` may see under the policy and the registered models' rules."""
    policy = get_policy()
    condition = policy(user)
    if not isinstance(condition, Q):
        raise RAGImproperlyConfigured(
            f'DJANGO_RAG["ACCESS_POLICY"] returned {type(condition).__name__}; it must return a Q object over Document.'
        )
    for rule in list(_model_rules.values()):
        condition &= rule(user)
    return condition


# The visibility rules of the models registered with ``django_rag.register(...,
# visible_to=...)``, by model label: ``user -> Q`` over Document. The registry (a
# surface, above this module) adds and removes them; every read path applies them here.
_model_rules: dict[str, Callable[[Any], Q]] = {}


def add_model_rule(label: str, rule: Callable[[Any], Q]) -> None:
    """Make documents of the model ``label`` pass ``rule(user)`` on every read path."""
    _model_rules[label] = rule


def remove_model_rule(label: str) -> None:
    _model_rules.pop(label, None)
