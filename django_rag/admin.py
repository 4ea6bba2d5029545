from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Chunk, Collection, Document, QueryLog

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


@admin.register(QueryLog)
class QueryLogAdmin(admin.ModelAdmin):
    """Read-only: the log is a record of what happened, not something to edit."""

    list_display = ["created_at", "short_question", "user", "collection", "cache_hit", "no_answer", "has_error", "total_ms"]
    list_filter = ["cache_hit", "no_answer", "collection", "created_at"]
    search_fields = ["question", "answer", "error"]
    list_select_related = ["user", "collection"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("question"))
    def short_question(self, obj):
        return obj.question[:100]

    @admin.display(description=_("error"), boolean=True)
    def has_error(self, obj):
        return bool(obj.error)


# --- API keys (issue 6) ------------------------------------------------------------------

from django.contrib import messages  # noqa: E402
from django.utils import timezone  # noqa: E402

from .models import ApiKey  # noqa: E402


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Create, inspect and revoke API keys. The key itself is shown once, on creation."""

    list_display = ["name", "user", "masked_key", "created_at", "last_used_at", "expires_at", "is_active_display"]
    list_filter = ["revoked_at", "created_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    actions = ["revoke_keys"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "user", "expires_at"]
        return ["name", "user", "masked_key", "created_at", "last_used_at", "expires_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # A key is never edited into another one: revoke it and create a new one.
        return ["user", "masked_key", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if not change:
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
    def masked_key(self, obj):
        return f"{ApiKey.SCHEME}_{obj.prefix}_…" if obj.prefix else "-"

    @admin.display(description=_("active"), boolean=True)
    def is_active_display(self, obj):
        return obj.is_active

    @admin.action(description=_("Revoke selected API keys"))
    def revoke_keys(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, _("%(count)d key(s) revoked.") % {"count": count}, messages.SUCCESS)
