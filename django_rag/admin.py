from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .exceptions import DjangoRAGError, query_failure
from .models import ApiKey, Chunk, Collection, Document, EmbedderState, EvalResult, EvalRun, QueryLog
from .generation import ask
from .tasks import INGEST_TASK, REMOVE_CHUNKS_TASK, queue_documents

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups, _ListDisplayT  # django-stubs' own aliases
    from django.contrib.auth.models import AnonymousUser, User
    from django.db.models import QuerySet
    from django.utils.safestring import SafeString
    from django_stubs_ext import StrOrPromise

    #: request.user in the admin (django-stubs types it with AUTH_USER_MODEL).
    Staff = User | AnonymousUser

    from .querysets import ChunkQuerySet, DocumentQuerySet, VisibilityMixin

    ModelAdmin = admin.ModelAdmin
    TabularInline = admin.TabularInline
else:

    class ModelAdmin(admin.ModelAdmin):
        """Django's ModelAdmin, which takes the model as a type parameter as django-stubs' does.

        ``ModelAdmin[Document]`` tells the type checker what ``obj`` and the QuerySets
        hold; Django's own class cannot be subscripted at run time.
        """

        def __class_getitem__(cls, model: Any) -> type:
            return cls

    class TabularInline(admin.TabularInline):
        def __class_getitem__(cls, models: Any) -> type:
            return cls


_M = TypeVar("_M", bound=models.Model)

logger = logging.getLogger("django_rag.admin")

# Django 5.x warns that URLField's default scheme becomes https in 6.0; choose it now.
URL_FORM_FIELD: dict[type[models.Field[Any, Any]], dict[str, Any]] = {models.URLField: {"assume_scheme": "https"}}

STATUS_COLOURS: dict[str, str] = {
    Document.Status.PENDING: "#6b7280",
    Document.Status.PROCESSING: "#2563eb",
    Document.Status.READY: "#15803d",
    Document.Status.FAILED: "#b91c1c",
}


def _short_date(value: datetime | None) -> str:
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else "-"


class VisibleRowsAdmin(ModelAdmin[_M]):
    """Lists only the rows the signed-in staff member may see (superusers: all of them)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[_M]:
        # Every model listed here has a QuerySet with VisibilityMixin (the stubs know only QuerySet).
        return cast("VisibilityMixin[_M]", super().get_queryset(request)).visible_to(request.user)


def visible_eval_runs(runs: QuerySet[EvalRun], user: Staff) -> QuerySet[EvalRun]:
    """The evaluation ``runs`` a staff member may see: superusers all; others the runs they made
    themselves (a run shows what its maker could retrieve), in collections they may still see."""
    if user.is_superuser:
        return runs
    return runs.filter(created_by=user.pk).filter(
        Q(collection__isnull=True) | Q(collection__in=Collection.objects.visible_to(user).values("pk"))
    )


class DocumentInline(TabularInline[Document, Collection]):
    """Upload documents straight into a collection; each is queued for ingestion on save."""

    model = Document
    fields = ["title", "file", "source_url", "status", "chunk_count"]
    readonly_fields = ["status", "chunk_count"]
    extra = 1
    show_change_link = True
    formfield_overrides = URL_FORM_FIELD

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        # Only the documents the staff member may see, as on every other admin page: the
        # collection's page must not list (nor let them edit) the others.
        return cast("DocumentQuerySet", super().get_queryset(request)).visible_to(request.user)


@admin.register(Collection)
class CollectionAdmin(VisibleRowsAdmin[Collection]):
    list_display = ["name", "slug", "visibility", "owner", "language", "document_count", "updated_at"]
    list_filter = ["visibility"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug", "description"]
    inlines = [DocumentInline]
    filter_horizontal = ["groups"]
    list_select_related = ["owner"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Collection]:
        # Count only the documents the staff member may see: a count must not reveal the others.
        visible = Q(documents__in=Document.objects.visible_to(request.user).values("pk"))
        counted = super().get_queryset(request).annotate(_document_count=Count("documents", filter=visible))
        # GROUP BY drops the model's default ordering; the autocomplete pages through this.
        return counted.order_by(*(Collection._meta.ordering or ()), "pk")

    @admin.display(description=_("documents"), ordering="_document_count")
    def document_count(self, obj: Collection) -> int:
        count: int = getattr(obj, "_document_count")  # the annotation of get_queryset()
        return count

    def get_deleted_objects(
        self, objs: Sequence[Collection] | QuerySet[Collection], request: HttpRequest
    ) -> tuple[list[Any], dict[Any, Any], set[Any], list[Any]]:
        # Deleting a collection deletes all its documents. Django would list each one by
        # name and delete them all, the ones this staff member may not see included: such
        # a collection is refused instead, as for a missing permission, naming none of them.
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if not request.user.is_superuser:
            hidden = Document.objects.filter(collection__in=[obj.pk for obj in objs]).exclude(
                pk__in=Document.objects.visible_to(request.user).values("pk")
            )
            if hidden.exists():
                return [], {}, {*perms_needed, _("documents you may not see")}, protected
        return deleted, model_count, perms_needed, protected


class AskForm(forms.Form):
    question = forms.CharField(label=_("Question"), max_length=2000, widget=forms.TextInput(attrs={"size": 80}))
    collection = forms.ModelChoiceField(
        label=_("Collection"), queryset=Collection.objects.none(), required=False, empty_label=_("All collections")
    )

    def __init__(self, *args: Any, user: Staff, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["collection"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Collection.objects.visible_to(user)


@admin.register(Document)
class DocumentAdmin(VisibleRowsAdmin[Document]):
    # One "ingestion" column tells the status, the chunks in use and their age together:
    # separate columns read "Pending | 1 chunk | ingested at 12:03" for a queued re-ingestion.
    list_display = ["__str__", "collection", "visibility", "ingestion"]
    # Offer only collections with documents the staff member may see, not every collection's name.
    list_filter = ["status", "visibility", ("collection", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "source_url", "file"]
    list_select_related = ["collection"]
    filter_horizontal = ["groups"]
    ingestion_fields = (
        "status_badge", "error", "content_hash", "chunk_count", "ingest_seconds", "timings", "ingested_at",
        "created_at", "updated_at",
    )
    readonly_fields = [*ingestion_fields, "source_type", "source_id"]
    fieldsets = [
        (None, {"fields": ["collection", "title", "file", "text", "source_url", "language", "metadata"]}),
        (_("Access"), {"fields": ["visibility", "owner", "groups"]}),
        (_("Indexed object"), {"fields": ["source_type", "source_id"], "classes": ["collapse"]}),
        (_("Ingestion"), {"fields": ingestion_fields}),
    ]
    actions = ["ingest_documents", "reingest_documents", "remove_chunks"]
    formfield_overrides = URL_FORM_FIELD
    change_list_template = "django_rag/admin/document_change_list.html"

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.name == "collection":  # a document goes only into a collection the user may see
            kwargs["queryset"] = Collection.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Document) -> SafeString:
        return format_html(
            '<span class="rag-status rag-status-{}" style="color:#fff;background:{};padding:1px 8px;'
            'border-radius:9px" title="{}">{}</span>',
            obj.status,
            STATUS_COLOURS.get(obj.status, "#6b7280"),
            obj.error,
            obj.get_status_display(),
        )

    @admin.display(description=_("ingestion"), ordering="status")
    def ingestion(self, obj: Document) -> SafeString:
        """The status badge and one sentence that agrees with it."""
        chunks = ngettext("%(count)d chunk", "%(count)d chunks", obj.chunk_count) % {"count": obj.chunk_count}
        when = _short_date(obj.ingested_at)
        detail: StrOrPromise
        if obj.status == Document.Status.READY:
            took = f" in {obj.ingest_seconds:.2f} s" if obj.ingest_seconds is not None else ""
            detail = _("%(chunks)s%(took)s, %(when)s") % {"chunks": chunks, "took": took, "when": when}
        elif obj.status == Document.Status.FAILED:
            detail = obj.error[:80] + ("…" if len(obj.error) > 80 else "")
            if obj.chunk_count:
                detail += " " + _("(the previous %(chunks)s are still searched)") % {"chunks": chunks}
        elif obj.chunk_count:  # pending or processing again: the old chunks answer meanwhile
            detail = _("queued again; %(chunks)s from %(when)s searched meanwhile") % {"chunks": chunks, "when": when}
            if obj.status == Document.Status.PROCESSING:
                detail = _("ingesting; %(chunks)s from %(when)s searched meanwhile") % {"chunks": chunks, "when": when}
        else:
            detail = _("waiting for a worker") if obj.status == Document.Status.PENDING else _("ingesting now")
        return format_html('{} <span class="rag-ingestion">{}</span>', self.status_badge(obj), detail)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl")
        if cl is not None:
            # The page reloads itself while a document it shows is waiting or being
            # ingested (django_rag/admin/document_change_list.html), as the example's page does.
            response.context_data["rag_refresh"] = any(  # type: ignore[attr-defined]  # a TemplateResponse: cl is in its context_data
                d.status in {Document.Status.PENDING, Document.Status.PROCESSING} for d in cl.result_list
            )
        return response

    def save_model(self, request: HttpRequest, obj: Document, form: forms.ModelForm[Document], change: bool) -> None:
        if not change:
            return super().save_model(request, obj, form, change)
        # Write only what the form edits: the status and counts on this instance were
        # read when the page loaded, and a worker may have finished since.
        edited = [name for name in form.fields if name in {f.name for f in obj._meta.concrete_fields}]
        obj.save(update_fields=[*edited, "updated_at"])

    @admin.display(description=_("timings"))
    def timings(self, obj: Document) -> str:
        steps = obj.ingest_timings if isinstance(obj.ingest_timings, dict) else {}
        if not steps:
            return "-"
        return format_html_join(", ", "{} {} s", ((step, f"{seconds:.3f}") for step, seconds in steps.items()))

    def _queue(self, request: HttpRequest, queryset: QuerySet[Document], task: str, **options: Any) -> None:
        queued, skipped = queue_documents(queryset, task, **options)
        if queued:
            self.message_user(
                request,
                ngettext("%(count)d document queued.", "%(count)d documents queued.", queued) % {"count": queued},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d document skipped: it is being ingested now.",
                    "%(count)d documents skipped: they are being ingested now.",
                    skipped,
                ) % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Ingest selected documents"), permissions=["change"])
    def ingest_documents(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        self._queue(request, queryset, INGEST_TASK)

    @admin.action(description=_("Re-ingest selected documents (force)"), permissions=["change"])
    def reingest_documents(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        self._queue(request, queryset, INGEST_TASK, force=True)

    @admin.action(description=_("Remove chunks of selected documents"), permissions=["change"])
    def remove_chunks(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        self._queue(request, queryset, REMOVE_CHUNKS_TASK)

    def get_urls(self) -> list[URLPattern]:
        ask = path("ask/", self.admin_site.admin_view(self.ask_view), name="django_rag_ask")
        return [ask, *super().get_urls()]

    def ask_view(self, request: HttpRequest) -> TemplateResponse:
        """Staff ask a question and see the answer with the sources it cites."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = AskForm(request.GET or None, user=request.user)
        answer, error = None, ""
        if form.is_valid():
            try:
                answer = ask(
                    form.cleaned_data["question"], user=request.user, collection=form.cleaned_data["collection"]
                )
            except (DjangoRAGError, ValueError) as exc:
                # Provider errors carry no secrets (see exceptions.LLMError); staff need the
                # reason after the words every surface answers with.
                failure = query_failure(exc)
                error = f"{failure[2]} ({failure[1]}: {exc})" if failure else str(exc)
                if failure:
                    logger.warning("The admin's Ask page could not answer: %s: %s", type(exc).__name__, exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Ask the documents"),
            "form": form,
            "answer": answer,
            "error": error,
        }
        return TemplateResponse(request, "django_rag/admin/ask.html", context)


def guard_view_on_site(admin_site: admin.AdminSite) -> None:
    """Put an access check in front of the admin's "view on site" redirect for documents.

    Django's ``<admin>/r/<content type id>/<object id>/`` (contenttypes' ``shortcut``)
    loads the object through the model's base manager, whoever asks, and redirects to its
    ``get_absolute_url()``: any staff member, with no django-rag permission at all, would
    learn a private document's source URL or file name, and that its id exists. A
    document the staff member may not see now gets the 404 of a missing one; other models
    are left to Django.
    """
    if getattr(admin_site, "_django_rag_guards_view_on_site", False):
        return
    site_urls = admin_site.get_urls

    def view_on_site(request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
        from django.contrib.contenttypes.models import ContentType
        from django.contrib.contenttypes.views import shortcut
        from django.http import Http404

        try:
            is_document = ContentType.objects.get_for_id(content_type_id).model_class() is Document
            hidden = is_document and not Document.objects.visible_to(request.user).filter(pk=object_id).exists()
        except (ContentType.DoesNotExist, ValueError, TypeError):
            hidden = False  # a malformed or unknown id: Django's own view answers 404
        if hidden:  # the very message Django gives a missing object
            raise Http404(f"Content type {content_type_id} object {object_id} doesn’t exist")
        return shortcut(request, content_type_id, object_id)

    def get_urls() -> list[URLPattern | URLResolver]:
        guarded = path(
            "r/<int:content_type_id>/<path:object_id>/", admin_site.admin_view(view_on_site), name="view_on_site"
        )
        return [guarded, *site_urls()]  # first, so it answers before Django's own

    admin_site.get_urls = get_urls  # type: ignore[method-assign]  # this one site's URLs, not every AdminSite's
    setattr(admin_site, "_django_rag_guards_view_on_site", True)


guard_view_on_site(admin.site)


@admin.register(Chunk)
class ChunkAdmin(VisibleRowsAdmin[Chunk]):
    list_display = ["__str__", "document", "index", "preview", "embedder"]
    list_select_related = ["document"]
    search_fields = ["content"]
    fields = readonly_fields = ("document", "index", "content", "metadata", "embedder", "language")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Chunk | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Chunk]:
        return Chunk.objects.visible_to(request.user).select_related("document")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Chunk], search_term: str
    ) -> tuple[QuerySet[Chunk], bool]:
        """The search box filters the chunks the user may see to those with the words,
        ranked by a hybrid search (the words and the meaning).

        Hybrid alone lists every chunk: its semantic leg returns the nearest chunks
        whatever they say. The changelist orders before it searches, so the relevance
        order set here is final.
        """
        if not search_term.strip():
            return queryset, False
        chunks = cast("ChunkQuerySet", queryset)  # get_queryset()'s
        ranked = chunks.order_by().hybrid(search_term.strip(), candidates=self.search_candidates)
        # keyword_rank is an annotation of hybrid(), which the stubs' lookup check cannot see.
        return ranked.filter(keyword_rank__isnull=False), False  # type: ignore[misc]

    #: How many chunks with the words the search box can list (the keyword leg's limit).
    search_candidates = 500

    @admin.display(description=_("relevance"))
    def score(self, obj: Chunk) -> str:
        value = getattr(obj, "score", None)
        if value is None:
            return "-"
        legs = [(_("words"), getattr(obj, "keyword_rank", None)), (_("meaning"), getattr(obj, "semantic_rank", None))]
        matched = ", ".join(f"{name} #{rank}" for name, rank in legs if rank is not None)
        # The fused score means little to a person; the leg ranks do. The number stays in the tooltip.
        return format_html('<span title="score {}">{}</span>', f"{value:.4f}", matched)

    def get_list_display(self, request: HttpRequest) -> _ListDisplayT[Chunk]:
        if request.GET.get("q", "").strip():
            return ["__str__", "document", "score", "preview", "embedder"]
        return super().get_list_display(request)

    @admin.display(description=_("content"))
    def preview(self, obj: Chunk) -> str:
        return obj.content[:120] + ("…" if len(obj.content) > 120 else "")


class QuestionColumnsMixin:
    """Columns of records about a question (query logs, evaluation results)."""

    @admin.display(description=_("question"))
    def short_question(self, obj: QueryLog | EvalResult) -> str:
        return obj.question[:100]

    @admin.display(description=_("error"), boolean=True)
    def has_error(self, obj: QueryLog | EvalResult) -> bool:
        return bool(obj.error)


if TYPE_CHECKING:
    _RecordAdminBase = ModelAdmin[Any]  # what the mixin goes before, to the type checker
else:
    _RecordAdminBase = object


class RecordAdminMixin(QuestionColumnsMixin, _RecordAdminBase):
    """Read-only admin for records of what happened, not something to edit."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else self.visible_records(queryset, request.user)

    def visible_records(self, queryset: QuerySet[Any], user: Staff) -> QuerySet[Any]:
        raise NotImplementedError("A record admin must say which records a staff member who is not a superuser sees.")

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


@admin.register(QueryLog)
class QueryLogAdmin(RecordAdminMixin, ModelAdmin[QueryLog]):
    """Read-only: the log is a record of what happened, not something to edit."""

    # One "outcome" column for cache hit / no answer / error, so the list fits 1280 px.
    list_display = ["created_at", "short_question", "user", "collection", "outcome", "total_ms"]
    # The collections of the rows listed, not every collection's name.
    list_filter = ["cache_hit", "no_answer", ("collection", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["question", "answer", "error"]
    list_select_related = ["user", "collection"]
    date_hierarchy = "created_at"

    @admin.display(description=_("outcome"))
    def outcome(self, obj: QueryLog) -> StrOrPromise:
        if obj.error:
            return format_html('<span title="{}">{}</span>', obj.error, _("error"))
        text = _("no answer") if obj.no_answer else _("answered")
        return f"{text} ({_('cached')})" if obj.cache_hit else text

    def visible_records(self, queryset: QuerySet[Any], user: Staff) -> QuerySet[Any]:
        # Questions can be personal: staff other than superusers see only their own, and
        # only while they may see the collection asked about (its name is on the page).
        return queryset.filter(user=user.pk).filter(
            Q(collection__isnull=True) | Q(collection__in=Collection.objects.visible_to(user).values("pk"))
        )


# -- evaluation -----------------------------------------------------------------------

EVAL_METRICS = [
    "ndcg", "recall", "mrr", "faithfulness", "answer_relevancy", "context_precision", "context_recall",
]


class EvalResultInline(QuestionColumnsMixin, TabularInline[EvalResult, EvalRun]):
    model = EvalResult
    fields = readonly_fields = ("question_id", "short_question", *EVAL_METRICS, "latency_ms", "has_error")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: EvalRun | None = None) -> bool:
        return False


EVAL_RUN_FIELDS = (
    "name", "dataset", "dataset_format", "collection", "mode", "k", "status", "error", "question_count",
    *EVAL_METRICS, "mean_latency_ms", "metrics", "settings_snapshot", "created_by", "started_at", "finished_at",
)


@admin.register(EvalRun)
class EvalRunAdmin(ModelAdmin[EvalRun]):
    """Runs side by side: the metric columns sort; "Compare" shows chosen runs and how their settings differ."""

    list_display = [
        "__str__", "mode", "k", "status", "question_count", *EVAL_METRICS, "mean_latency_ms", "embedder", "started_at",
    ]
    list_filter = ["mode", "status", "dataset_format", ("collection", admin.RelatedOnlyFieldListFilter), "started_at"]
    search_fields = ["name", "dataset"]
    list_select_related = ["collection"]
    date_hierarchy = "started_at"
    actions = ["compare_runs"]
    inlines = [EvalResultInline]
    fields = EVAL_RUN_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[EvalRun]:
        return visible_eval_runs(super().get_queryset(request), request.user)

    def get_readonly_fields(self, request: HttpRequest, obj: EvalRun | None = None) -> list[str]:
        return [name for name in EVAL_RUN_FIELDS if name != "name"]  # a label is all one may change

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs come from rag_eval or django_rag.evaluate()

    @admin.display(description=_("embedder"))
    def embedder(self, obj: EvalRun) -> str:
        return str((obj.settings_snapshot.get("embedder") or {}).get("identity", ""))

    @admin.action(description=_("Compare selected evaluation runs"))
    def compare_runs(self, request: HttpRequest, queryset: QuerySet[EvalRun]) -> TemplateResponse:
        from django.template.response import TemplateResponse

        from .evaluation.compare import compare_runs

        runs = list(queryset.order_by("started_at", "pk"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Compare evaluation runs"),
            "opts": self.model._meta,
            "comparison": compare_runs(runs),
        }
        return TemplateResponse(request, "admin/django_rag/evalrun/compare.html", context)


@admin.register(EvalResult)
class EvalResultAdmin(RecordAdminMixin, ModelAdmin[EvalResult]):
    list_display = ["question_id", "short_question", "run", *EVAL_METRICS, "latency_ms"]
    list_filter = ["run__mode", ("run", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["question", "question_id", "answer"]
    list_select_related = ["run"]

    def visible_records(self, queryset: QuerySet[Any], user: Staff) -> QuerySet[Any]:
        return queryset.filter(run__in=visible_eval_runs(EvalRun.objects.all(), user).values("pk"))


# -- API keys -------------------------------------------------------------------------

@admin.register(ApiKey)
class ApiKeyAdmin(ModelAdmin[ApiKey]):
    """Create, inspect and revoke API keys. The key itself is shown once, on creation."""

    # Dates in one column, so the list fits 1280 px beside the admin's sidebars.
    list_display = ["name", "user", "masked_key", "is_active_display", "key_dates"]
    list_filter = ["revoked_at", "created_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    actions = ["revoke_keys"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        # A key acts as its user: staff other than superusers see, revoke and delete their own only.
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user.pk)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> _FieldGroups:
        if obj is None:
            # Only a superuser picks whose key it is; anyone else mints keys for themselves
            # (a key for another user, or a superuser, would act with their rights).
            return ["name", "user", "expires_at"] if request.user.is_superuser else ["name", "expires_at"]
        return ["name", "user", "masked_key", "created_at", "last_used_at", "expires_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        # A key is never edited into another one: revoke it and create a new one.
        return ["user", "masked_key", "created_at", "last_used_at", "revoked_at"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"user": request.user.pk, **super().get_changeform_initial_data(request)}

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm[ApiKey], change: bool) -> None:
        if not change:
            if not request.user.is_superuser or "user" not in form.cleaned_data:
                obj.user = cast("User", request.user)  # signed in: the admin lets no one else here
            key = obj.set_new_key()
            super().save_model(request, obj, form, change)
            messages.warning(
                request,
                _("The new API key is %(key)s. Copy it now: it is stored hashed and will not be shown again.")
                % {"key": key},
            )
            return
        super().save_model(request, obj, form, change)

    @admin.display(description=_("key"))
    def masked_key(self, obj: ApiKey) -> str:
        return f"{ApiKey.SCHEME}_{obj.prefix}_…" if obj.prefix else "-"

    @admin.display(description=_("active"), boolean=True)
    def is_active_display(self, obj: ApiKey) -> bool:
        return obj.is_active

    @admin.display(description=_("created, last used, expires"), ordering="created_at")
    def key_dates(self, obj: ApiKey) -> SafeString:
        return format_html(
            "{}<br>{}<br>{}",
            _("created %(date)s") % {"date": _short_date(obj.created_at)},
            _("used %(date)s") % {"date": _short_date(obj.last_used_at)} if obj.last_used_at else _("never used"),
            _("expires %(date)s") % {"date": _short_date(obj.expires_at)} if obj.expires_at else _("no expiry"),
        )

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, _("%(count)d key(s) revoked.") % {"count": count}, messages.SUCCESS)


# -- Embedders ----------------------------------------------------------------------------

@admin.register(EmbedderState)
class EmbedderStateAdmin(ModelAdmin[EmbedderState]):
    """Which embedder searches use, and how far each one covers the chunks (read-only).

    Switching is ``rag_activate_embedder``'s job: it refuses an embedder that misses
    chunks, which a form here could not say as clearly. See docs/embedding-models.md.
    """

    change_list_template = "admin/django_rag/embedderstate/change_list.html"
    list_display = ["alias", "active", "side_table", "coverage_display", "identity", "activated_at"]
    readonly_fields = ["alias", "identity", "dimensions", "active", "side_table", "progress", "created_at", "activated_at"]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: EmbedderState | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: EmbedderState | None = None) -> bool:
        return False

    @admin.display(description=_("coverage"))
    def coverage_display(self, obj: EmbedderState) -> StrOrPromise:
        from . import reembed
        from .embedders import embedders

        if obj.alias not in embedders or embedders[obj.alias].identity != obj.identity:
            return _("settings changed")
        counts = reembed.coverage(embedders[obj.alias], side=obj.side_table)
        return reembed.coverage_text(counts)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        from . import reembed

        # Every configured embedder, rows or not (before any re-embedding there are none).
        entries = []
        if self.has_view_permission(request):
            for entry in reembed.status():
                entry["coverage_text"] = reembed.coverage_text(entry["coverage"]) if "coverage" in entry else "-"
                entries.append(entry)
        return super().changelist_view(request, {**(extra_context or {}), "embedder_status": entries})
