"""Index any Django model: ``django_rag.register(Article, fields=["title", "body"], ...)``.

Each registered instance is one :class:`~django_rag.models.Document` (linked to it by
``source_type``/``source_id``) whose text is built from the instance's fields. Saving or
deleting an instance enqueues :func:`reindex_instance` once the transaction commits;
ingestion skips the embedder when the text has not changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.db.models.functions import Cast
from django.db.models.signals import post_delete, post_save

from .access import add_model_rule, remove_model_rule
from .exceptions import NotRegistered
from .tasks import enqueue

if TYPE_CHECKING:
    from .models import Collection

Getter = str | Callable[[Any], Any] | None


@dataclass
class Registration:
    """How one model is indexed (made by :func:`register`)."""

    model: type[models.Model]
    fields: Sequence[str | Callable[[Any], Any]]
    title: Getter = None
    url: Getter = None
    collection: Any = None
    visible_to: Callable[[Any], Q] | None = None
    format: str = "markdown"
    language: str = ""
    receivers: list[tuple[Any, str]] = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    def text_for(self, instance: Any) -> str:
        parts = [_read(instance, getter) for getter in self.fields]
        return "\n\n".join(str(part).strip() for part in parts if part not in (None, "") and str(part).strip())

    def title_for(self, instance: Any) -> str:
        value = _read(instance, self.title) if self.title else str(instance)
        return str(value or "")[:500]

    def url_for(self, instance: Any) -> str:
        getter = self.url if self.url is not None else ("get_absolute_url" if hasattr(instance, "get_absolute_url") else None)
        return str(_read(instance, getter) or "")[:2000] if getter else ""

    def collection_for(self, instance: Any) -> Collection | None:
        from .models import Collection

        value = self.collection(instance) if callable(self.collection) else self.collection
        if value is None or isinstance(value, Collection):
            return value
        if isinstance(value, int):
            return Collection.objects.get(pk=value)
        # A slug: created on first use, public like any new collection, so that
        # registering a model needs no data migration.
        collection, _ = Collection.objects.get_or_create(slug=value, defaults={"name": value.replace("-", " ").title()})
        return collection

    def rule(self, user: Any) -> Q:
        """``Q`` over Document: rows of this model must pass its ``visible_to`` rule; others are untouched."""
        if self.visible_to is None:  # register() adds a rule only for registrations with one
            return Q()
        content_type = ContentType.objects.get_for_model(self.model)
        condition = self.visible_to(user)
        if not isinstance(condition, Q):
            raise TypeError(f"visible_to of {self.label} returned {type(condition).__name__}; it must return a Q object.")
        if not condition:  # Q(): every instance, so no condition at all
            return Q()
        admitted = _text_pks(self.model._default_manager.filter(condition))
        return ~Q(source_type=content_type) | Q(source_type=content_type, source_id__in=admitted)


_registry: dict[str, Registration] = {}


def _text_pks(queryset: Any) -> Any:
    """The primary keys of ``queryset`` as text, comparable with ``Document.source_id`` in SQL."""
    return queryset.values_list(Cast("pk", output_field=models.CharField()), flat=True)


def _read(instance: Any, getter: Getter) -> Any:
    if getter is None:
        return None
    if callable(getter):
        return getter(instance)
    value = getattr(instance, getter)
    return value() if callable(value) else value


def register(
    model: type[models.Model],
    *,
    fields: Sequence[str | Callable[[Any], Any]],
    title: Getter = None,
    url: Getter = None,
    collection: Any = None,
    visible_to: Callable[[Any], Q] | None = None,
    format: str = "markdown",
    language: str = "",
) -> Registration:
    """Index ``model``'s instances and keep them indexed as they are saved and deleted.

    ``fields``: attribute names or callables whose values make the text (joined by blank
    lines). ``title``/``url``: an attribute name or a callable taking the instance
    (default: ``str(instance)`` and ``get_absolute_url()``). ``collection``: a
    Collection, its slug (created if missing), its pk, or a callable returning one.
    ``visible_to``: ``user -> Q`` over ``model``; its documents are visible only to users
    whose Q admits the instance, in SQL, on every path. ``format``: how the text is
    read (``markdown``, ``text`` or ``html``). Registering a model again replaces the
    previous registration.
    """
    from .ingestion.extractors import text_formats

    if not fields:
        raise ValueError("register() needs at least one field to index.")
    if format not in text_formats():
        raise ValueError(f"format must be one of {', '.join(text_formats())}, not {format!r}.")
    for getter in (*fields, title, url):
        if isinstance(getter, str) and not _has_attribute(model, getter):
            raise ValueError(f"{model._meta.label} has no field or attribute {getter!r}.")
    if visible_to is not None and not callable(visible_to):
        raise TypeError("visible_to must be a callable taking a user and returning a Q object.")
    unregister(model, missing_ok=True)
    registration = Registration(
        model=model, fields=list(fields), title=title, url=url, collection=collection, visible_to=visible_to,
        format=format, language=language,
    )
    for signal, receiver in ((post_save, _on_save), (post_delete, _on_delete)):
        uid = f"{receiver.__module__}.{receiver.__name__}.{registration.label}"
        signal.connect(receiver, sender=model, dispatch_uid=uid, weak=False)
        registration.receivers.append((signal, uid))
    _registry[registration.label] = registration
    if visible_to is not None:
        add_model_rule(registration.label, registration.rule)
    return registration


def _has_attribute(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
        return True
    except Exception:
        return hasattr(model, name)


def unregister(model: type[models.Model], *, missing_ok: bool = False) -> None:
    """Stop indexing ``model`` (its documents stay until :func:`reindex_model` or deletion)."""
    registration = _registry.pop(model._meta.label_lower, None)
    remove_model_rule(model._meta.label_lower)
    if registration is None:
        if missing_ok:
            return
        raise NotRegistered(f"{model._meta.label} is not registered with django_rag.")
    for signal, uid in registration.receivers:
        signal.disconnect(sender=model, dispatch_uid=uid)


def get_registration(model_or_label: type[models.Model] | str) -> Registration:
    label = model_or_label.lower() if isinstance(model_or_label, str) else model_or_label._meta.label_lower
    try:
        return _registry[label]
    except KeyError:
        raise NotRegistered(
            f"{model_or_label if isinstance(model_or_label, str) else model_or_label._meta.label} is not registered "
            "with django_rag (call django_rag.register() in an AppConfig.ready())."
        ) from None


def registrations() -> list[Registration]:
    return list(_registry.values())


# --- keeping documents in step with their instances ----------------------------------


def _enqueue_reindex(instance: Any, using: str) -> None:
    meta = instance._meta
    pk = instance.pk if isinstance(instance.pk, int | str) else str(instance.pk)
    # On commit: a worker must never index a row that is rolled back, nor miss the
    # committed one. Only primary keys travel, so any queue can carry the task.
    transaction.on_commit(
        lambda: enqueue("django_rag.registry.reindex_instance", meta.app_label, meta.model_name, pk), using=using
    )


def _on_save(sender: type[models.Model], instance: Any, raw: bool = False, using: str = "default", **kwargs: Any) -> None:
    if not raw:  # loaddata: fixtures are indexed by reindex_model
        _enqueue_reindex(instance, using)


def _on_delete(sender: type[models.Model], instance: Any, using: str = "default", **kwargs: Any) -> None:
    _enqueue_reindex(instance, using)


def reindex_instance(app_label: str, model_name: str, pk: Any) -> str:
    """Bring one instance's document in line with it: create, update, or delete it.

    The task behind saves and deletes. Returns ``"ingested"``, ``"unchanged"``,
    ``"removed"``, ``"failed"`` or ``"busy"``. Idempotent, and it reads the instance
    afresh, so it does the right thing whatever order the queue runs it in.
    """
    from .ingestion import ingest
    from .models import Document
    from .receivers import auto_ingest_paused

    model = apps.get_model(app_label, model_name)
    registration = get_registration(model)
    content_type = ContentType.objects.get_for_model(model)
    source = Document.objects.filter(source_type=content_type, source_id=str(pk))
    instance = model._default_manager.filter(pk=pk).first()
    text = registration.text_for(instance) if instance is not None else ""
    if not text:
        # Deleted, or nothing left to index: no document, so no stale answers.
        deleted, _ = source.delete()
        return "removed" if deleted else "unchanged"
    fields = {
        "title": registration.title_for(instance),
        "source_url": registration.url_for(instance),
        "collection": registration.collection_for(instance),
        "text": text,
        "language": registration.language,
    }
    # This task ingests the document itself, below: no second ingestion from the
    # save receivers (INGEST_ON_SAVE).
    with auto_ingest_paused():
        document = source.first()
        if document is None:
            try:
                with transaction.atomic():
                    document = Document.objects.create(
                        source_type=content_type, source_id=str(pk), metadata={"format": registration.format}, **fields
                    )
            except IntegrityError:  # another worker created it first
                document = source.get()
        changed = [name for name, value in fields.items() if getattr(document, name) != value]
        if document.metadata.get("format") != registration.format:
            document.metadata = {**document.metadata, "format": registration.format}
            changed.append("metadata")
        if changed:
            for name in changed:
                if name != "metadata":
                    setattr(document, name, fields[name])
            document.save(update_fields=[*changed, "updated_at"])
    # ingest() compares a signature of text, title, language and embedder with the one
    # in place: an unchanged instance costs no embedding call and no write.
    return ingest(document).status


def reindex_model(model_or_label: type[models.Model] | str, progress: Any = None) -> dict[str, int]:
    """Index every instance of a registered model and drop documents of deleted ones.

    ``progress``: an object with ``advance(n=1, note="")`` (such as
    :class:`django_rag.management.progress.ProgressBar`) or a callable taking
    ``(done, total)``. Returns the count of each outcome.
    """
    from .models import Document

    registration = get_registration(model_or_label)
    model = registration.model
    meta = model._meta
    assert meta.model_name is not None  # set on every model class (None only in the stubs)
    content_type = ContentType.objects.get_for_model(model)
    pks = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
    counts = {"ingested": 0, "unchanged": 0, "removed": 0, "failed": 0, "busy": 0}
    for done, pk in enumerate(pks, start=1):
        status = reindex_instance(meta.app_label, meta.model_name, pk if isinstance(pk, int | str) else str(pk))
        counts[status] = counts.get(status, 0) + 1
        _report(progress, done, len(pks), status)
    orphans = Document.objects.filter(source_type=content_type).exclude(source_id__in=_text_pks(model._default_manager.all()))
    counts["removed"] += orphans.delete()[1].get(Document._meta.label, 0)
    return counts


def _report(progress: Any, done: int, total: int, note: str) -> None:
    if progress is None:
        return
    if hasattr(progress, "advance"):
        progress.advance(1, note)
    else:
        progress(done, total)
