from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Chunk, Collection, Document, EvalResult, EvalRun, QueryLog

STATUS_COLOURS = {
    Document.Status.PENDING: "#6b7280",
    Document.Status.PROCESSING: "#2563eb",
    Document.Status.READY: "#15803d",
    Document.Status.FAILED: "#b91c1c",
}


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "language", "document_count", "updated_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_document_count=Count("documents"))

    @admin.display(description=_("documents"), ordering="_document_count")
    def document_count(self, obj):
        return obj._document_count


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "collection", "status_badge", "chunk_count", "ingest_seconds", "ingested_at"]
    list_filter = ["status", "collection"]
    search_fields = ["title", "source_url", "file"]
    list_select_related = ["collection"]
    readonly_fields = [
        "status", "error", "content_hash", "chunk_count", "ingest_seconds", "ingested_at", "created_at", "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["collection", "title", "file", "text", "source_url", "language", "metadata"]}),
        (_("Ingestion"), {"fields": readonly_fields}),
    ]

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="rag-status rag-status-{}" style="color:#fff;background:{};padding:1px 8px;'
            'border-radius:9px" title="{}">{}</span>',
            obj.status,
            STATUS_COLOURS.get(obj.status, "#6b7280"),
            obj.error,
            obj.get_status_display(),
        )


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ["__str__", "document", "index", "preview", "embedder"]
    list_select_related = ["document"]
    search_fields = ["content"]
    fields = ["document", "index", "content", "metadata", "embedder", "language"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("content"))
    def preview(self, obj):
        return obj.content[:120] + ("…" if len(obj.content) > 120 else "")


class QuestionColumnsMixin:
    """Columns of records about a question (query logs, evaluation results)."""

    @admin.display(description=_("question"))
    def short_question(self, obj):
        return obj.question[:100]

    @admin.display(description=_("error"), boolean=True)
    def has_error(self, obj):
        return bool(obj.error)


class RecordAdminMixin(QuestionColumnsMixin):
    """Read-only admin for records of what happened, not something to edit."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(QueryLog)
class QueryLogAdmin(RecordAdminMixin, admin.ModelAdmin):
    """Read-only: the log is a record of what happened, not something to edit."""

    list_display = ["created_at", "short_question", "user", "collection", "cache_hit", "no_answer", "has_error", "total_ms"]
    list_filter = ["cache_hit", "no_answer", "collection", "created_at"]
    search_fields = ["question", "answer", "error"]
    list_select_related = ["user", "collection"]
    date_hierarchy = "created_at"


# -- evaluation -----------------------------------------------------------------------

EVAL_METRICS = [
    "ndcg", "recall", "mrr", "faithfulness", "answer_relevancy", "context_precision", "context_recall",
]


class EvalResultInline(QuestionColumnsMixin, admin.TabularInline):
    model = EvalResult
    fields = ["question_id", "short_question", *EVAL_METRICS, "latency_ms", "has_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EvalRun)
class EvalRunAdmin(admin.ModelAdmin):
    """Runs side by side: the metric columns sort; "Compare" shows chosen runs and how their settings differ."""

    list_display = [
        "__str__", "mode", "k", "status", "question_count", *EVAL_METRICS, "mean_latency_ms", "embedder", "started_at",
    ]
    list_filter = ["mode", "status", "dataset_format", "collection", "started_at"]
    search_fields = ["name", "dataset"]
    list_select_related = ["collection"]
    date_hierarchy = "started_at"
    actions = ["compare_runs"]
    inlines = [EvalResultInline]
    fields = [
        "name", "dataset", "dataset_format", "collection", "mode", "k", "status", "error", "question_count",
        *EVAL_METRICS, "mean_latency_ms", "metrics", "settings_snapshot", "created_by", "started_at", "finished_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in self.fields if name != "name"]  # a label is all one may change

    def has_add_permission(self, request):
        return False  # runs come from rag_eval or django_rag.evaluate()

    @admin.display(description=_("embedder"))
    def embedder(self, obj):
        return (obj.settings_snapshot.get("embedder") or {}).get("identity", "")

    @admin.action(description=_("Compare selected evaluation runs"))
    def compare_runs(self, request, queryset):
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
class EvalResultAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = ["question_id", "short_question", "run", *EVAL_METRICS, "latency_ms"]
    list_filter = ["run__mode", "run"]
    search_fields = ["question", "question_id", "answer"]
    list_select_related = ["run"]
