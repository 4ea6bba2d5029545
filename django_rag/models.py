from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, cast

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from .fields import DocumentFileField, RegConfigField
from .files import display_name, document_storage, upload_path
from .querysets import ChunkQuerySet, CollectionQuerySet, DocumentQuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Visibility(models.TextChoices):
    """Who may see a collection or a document (see docs/permissions.md)."""

    INHERIT = "inherit", _("As its collection")
    PUBLIC = "public", _("Everyone, including anonymous visitors")
    USERS = "users", _("Signed-in users")
    PRIVATE = "private", _("Its owner and the groups it is shared with")


class AccessFields(models.Model):
    """Owner, shared groups and visibility: the rules a site can set in the admin, no code."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    groups = models.ManyToManyField(
        "auth.Group", verbose_name=_("shared with groups"), blank=True, related_name="+",
        help_text=_("Members of these groups may see it when it is private."),
    )

    class Meta:
        abstract = True


class Collection(AccessFields):
    """A named set of documents, searched together (an HR handbook, a product's docs...)."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    language = models.CharField(
        _("full-text language"),
        max_length=63,
        blank=True,
        help_text=_(
            "PostgreSQL text search configuration (english, simple, german...) for documents "
            "that do not name their own. Empty: DJANGO_RAG['DEFAULT_LANGUAGE']."
        ),
    )
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    visibility = models.CharField(
        _("visibility"),
        max_length=10,
        choices=[c for c in Visibility.choices if c[0] != Visibility.INHERIT],
        default=Visibility.PUBLIC,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = CollectionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("collection")
        verbose_name_plural = _("collections")

    def __str__(self) -> str:
        return self.name


class Document(AccessFields):
    """Something to search: an uploaded file, a piece of text, or a registered model instance."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    collection = models.ForeignKey(
        Collection,
        verbose_name=_("collection"),
        related_name="documents",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
    )
    title = models.CharField(_("title"), max_length=500, blank=True)
    # Stored under a random directory in DJANGO_RAG["FILE_STORAGE"]; its links go to the
    # access-checked serving view (django_rag.files), never to MEDIA_URL.
    file = DocumentFileField(
        _("file"), upload_to=upload_path, storage=document_storage, blank=True, max_length=500
    )
    text = models.TextField(_("text"), blank=True, help_text=_("Used when there is no file."))
    source_url = models.URLField(_("source URL"), max_length=2000, blank=True)
    language = models.CharField(
        _("full-text language"),
        max_length=63,
        blank=True,
        help_text=_("Empty: the collection's language, then DJANGO_RAG['DEFAULT_LANGUAGE']."),
    )
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    visibility = models.CharField(
        _("visibility"),
        max_length=10,
        choices=Visibility.choices,
        default=Visibility.INHERIT,
        help_text=_("Narrows its collection's visibility; it never widens it."),
    )
    # The model instance this document indexes (django_rag.register); empty otherwise.
    # A text id, like the admin's LogEntry, so models with UUID or string keys work too.
    source_type = models.ForeignKey(
        ContentType, verbose_name=_("source type"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    source_id = models.CharField(_("source id"), max_length=255, blank=True, default="")
    source_object = GenericForeignKey("source_type", "source_id")

    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    error = models.TextField(_("last error"), blank=True)
    content_hash = models.CharField(
        _("content hash"), max_length=64, blank=True, help_text=_("SHA-256 of the file or text last ingested.")
    )
    ingest_signature = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="Hash of content, chunking settings and embedder of the chunks in place.",
    )
    chunk_count = models.PositiveIntegerField(_("chunks"), default=0)
    ingest_seconds = models.FloatField(_("ingestion time (s)"), null=True, blank=True)
    ingest_timings = models.JSONField(
        _("ingestion timings (s)"), default=dict, blank=True, editable=False,
        help_text=_("Seconds spent extracting, splitting and embedding in the last ingestion."),
    )
    ingested_at = models.DateTimeField(_("ingested"), null=True, blank=True)
    # The ingestion's lease (django_rag.ingestion.leases): which worker holds the document
    # and until when. A worker that dies lets it expire, and the document counts as stuck.
    lease_owner = models.CharField(
        _("lease owner"), max_length=200, blank=True, editable=False,
        help_text=_("The worker ingesting this document now (host:pid:token)."),
    )
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        constraints = [
            # One document per registered instance, so concurrent re-indexing cannot duplicate it.
            models.UniqueConstraint(
                fields=["source_type", "source_id"],
                condition=models.Q(source_type__isnull=False),
                name="django_rag_document_source",
            ),
        ]
        indexes = [
            # The few documents that narrow their collection's visibility: lets the
            # access rules see in one index probe that there are none (django_rag.access).
            models.Index(
                fields=["visibility"],
                condition=~models.Q(visibility__in=["inherit", "public"]),
                name="django_rag_document_restricted",
            ),
        ]

    def __str__(self) -> str:
        return self.title or (self.file_name or f"Document {self.pk}")

    @property
    def file_name(self) -> str:
        """The uploaded file's own name (``report.pdf``), without the storage's random directory."""
        return display_name(self.file.name or "") if self.file else ""

    def get_absolute_url(self) -> str:
        """The source URL, else the serving view of the file (``/rag/documents/42/file``), else ``""``."""
        if self.source_url:
            return self.source_url
        if self.file:
            return self.file.url
        return ""


class Chunk(models.Model):
    """A piece of a document with its embedding and full-text vector.

    ``embedding`` is an untyped pgvector ``vector`` column, so one table holds vectors of
    any dimension (384, 768, 1536...). Each configured embedder gets a partial HNSW index
    on ``(embedding::vector(N))`` restricted to ``embedder = '<its identity>'``; queries
    use the same expression and predicate. See :mod:`django_rag.vector_indexes`.
    """

    # The (document, index) unique constraint already indexes document_id first.
    document = models.ForeignKey(Document, related_name="chunks", on_delete=models.CASCADE, db_index=False)
    index = models.PositiveIntegerField(_("position"))
    content = models.TextField(_("content"))
    # Where the chunk sits ("Handbook > Leave > Parental leave"): searched and embedded
    # with the content, so a chunk from the middle of a document still carries its
    # document's title, but never shown as part of it.
    context = models.TextField(_("context"), blank=True, db_default="")
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    embedding = VectorField(_("embedding"))
    # No btree here: each embedder's partial HNSW index already selects its rows.
    embedder = models.CharField(_("embedder"), max_length=255)
    language = RegConfigField(_("full-text language"), default="english")
    # Generated by PostgreSQL from context, content and language, so every writer (the
    # ORM, COPY, raw SQL) gets the same vector. to_tsvector(regconfig, text) is
    # immutable, which a stored generated column requires; text cast to regconfig is not.
    search_vector = models.GeneratedField(
        expression=SearchVector("context", "content", config=models.F("language")),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = ChunkQuerySet.as_manager()

    if TYPE_CHECKING:
        # Set on the chunks a search returns (hybrid(), semantic(), keyword(), top(),
        # django_rag.search()): see RetrievalMixin. A leg that did not find the chunk
        # leaves its columns None. Not fields: other chunks do not have them.
        score: float
        semantic_rank: int | None
        keyword_rank: int | None
        distance: float | None
        keyword_score: float | None
        best_rank: int

    class Meta:
        # document_id, not document: the latter follows Document's own ordering and so
        # joins the document table into every default chunk query.
        ordering = ["document_id", "index"]
        verbose_name = _("chunk")
        verbose_name_plural = _("chunks")
        constraints = [
            models.UniqueConstraint(fields=["document", "index"], name="django_rag_chunk_document_index"),
        ]
        indexes = [GinIndex(fields=["search_vector"], name="django_rag_chunk_fts")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.index}"

    @staticmethod
    def compose_embedding_text(context: str, content: str) -> str:
        """The text an embedder sees for a chunk: its context line, a blank line, its content."""
        return f"{context}\n\n{content}" if context else content

    @property
    def embedding_text(self) -> str:
        return self.compose_embedding_text(self.context, self.content)


class EmbedderState(models.Model):
    """What the database knows of one embedder: whether searches use it, and where its vectors are.

    The active embedder is stored here rather than in settings, so that every process of
    a site switches together (``rag_activate_embedder``). With no row marked active,
    searches use ``DJANGO_RAG["EMBEDDERS"]["default"]``. An embedder re-embedded with
    ``rag_reembed --to`` keeps its vectors in the side table ``django_rag_chunk_embedding``
    (``side_table``); the others' vectors are ``Chunk.embedding``. See
    docs/embedding-models.md and :mod:`django_rag.reembed`.
    """

    alias = models.CharField(_("alias"), max_length=100, unique=True, help_text=_('An entry of DJANGO_RAG["EMBEDDERS"].'))
    identity = models.CharField(
        _("identity"), max_length=255, help_text=_("The model and options the stored vectors were made with.")
    )
    dimensions = models.PositiveIntegerField(_("dimensions"))
    active = models.BooleanField(_("active"), default=False, help_text=_("Searches and ask() use this embedder."))
    side_table = models.BooleanField(
        _("re-embedded"), default=False,
        help_text=_("Its vectors were made by rag_reembed and live beside the chunks, one row per chunk."),
    )
    progress = models.JSONField(_("progress"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)

    class Meta:
        ordering = ["alias"]
        verbose_name = _("embedder")
        verbose_name_plural = _("embedders")
        # Read-only in the admin: switching is rag_activate_embedder's job (it checks coverage).
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="django_rag_embedderstate_one_active"
            ),
        ]

    def __str__(self) -> str:
        return self.alias


class QueryLog(models.Model):
    """One question asked through :func:`django_rag.ask` and what happened to it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.SET_NULL
    )
    collection = models.ForeignKey(
        Collection, verbose_name=_("collection"), null=True, blank=True, on_delete=models.SET_NULL
    )
    question = models.TextField(_("question"))
    standalone_question = models.TextField(
        _("standalone question"), blank=True, help_text=_("The question rewritten from the conversation, if any.")
    )
    answer = models.TextField(_("answer"), blank=True)
    cited_chunks = models.JSONField(_("cited chunks"), default=list, blank=True)
    retrieved_chunks = models.JSONField(_("retrieved chunks"), default=list, blank=True)
    llm = models.CharField(_("LLM"), max_length=255, blank=True)
    embed_ms = models.FloatField(_("embed (ms)"), null=True, blank=True)
    retrieve_ms = models.FloatField(_("retrieve (ms)"), null=True, blank=True)
    generate_ms = models.FloatField(_("generate (ms)"), null=True, blank=True)
    total_ms = models.FloatField(_("total (ms)"), null=True, blank=True)
    input_tokens = models.PositiveIntegerField(_("input tokens"), null=True, blank=True)
    output_tokens = models.PositiveIntegerField(_("output tokens"), null=True, blank=True)
    cache_hit = models.BooleanField(_("cache hit"), default=False)
    no_answer = models.BooleanField(_("no answer"), default=False, help_text=_("Nothing relevant was retrieved."))
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("asked"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("query log")
        verbose_name_plural = _("query logs")

    def __str__(self) -> str:
        return self.question[:80]


class EvalScores(models.Model):
    """The evaluation metrics: a question's scores on EvalResult, their means on EvalRun (None: not measured)."""

    ndcg = models.FloatField(_("nDCG@k"), null=True, blank=True)
    recall = models.FloatField(_("recall@k"), null=True, blank=True)
    mrr = models.FloatField(_("MRR@k"), null=True, blank=True)
    faithfulness = models.FloatField(_("faithfulness"), null=True, blank=True)
    answer_relevancy = models.FloatField(_("answer relevancy"), null=True, blank=True)
    context_precision = models.FloatField(_("context precision"), null=True, blank=True)
    context_recall = models.FloatField(_("context recall"), null=True, blank=True)

    class Meta:
        abstract = True


class EvalRun(EvalScores):
    """One evaluation of one retrieval mode over a dataset (``rag_eval``, ``django_rag.evaluate``).

    The metric columns are means over the run's questions (None when not measured), so
    runs sort and compare in the admin; ``settings_snapshot`` records what shaped them.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=200, blank=True)
    dataset = models.CharField(_("dataset"), max_length=500)
    dataset_format = models.CharField(_("dataset format"), max_length=20)
    collection = models.ForeignKey(
        Collection, verbose_name=_("collection"), null=True, blank=True, on_delete=models.SET_NULL
    )
    mode = models.CharField(_("mode"), max_length=20)
    k = models.PositiveIntegerField(_("k"), help_text=_("Cut-off of recall@k, MRR@k and nDCG@k."))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(_("error"), blank=True)
    question_count = models.PositiveIntegerField(_("questions"), default=0)
    mean_latency_ms = models.FloatField(_("mean search (ms)"), null=True, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True, help_text=_("Every mean, by metric name."))
    settings_snapshot = models.JSONField(
        _("settings"), default=dict, blank=True,
        help_text=_("Embedder, chunking, fusion and judge settings at the time of the run."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("evaluation run")
        verbose_name_plural = _("evaluation runs")

    def __str__(self) -> str:
        label = self.name or self.dataset
        return f"{label} ({self.mode}, {self.started_at:%Y-%m-%d %H:%M})" if self.started_at else label


class EvalResult(EvalScores):
    """One question of an :class:`EvalRun`: what was retrieved and answered, and its scores."""

    run = models.ForeignKey(EvalRun, verbose_name=_("run"), related_name="results", on_delete=models.CASCADE)
    question_id = models.CharField(_("question id"), max_length=200)
    question = models.TextField(_("question"))
    reference_answer = models.TextField(_("reference answer"), blank=True)
    relevant = models.JSONField(_("relevant documents"), default=dict, blank=True)
    retrieved = models.JSONField(_("retrieved documents"), default=list, blank=True, help_text=_("Best first, top k."))
    answer = models.TextField(_("answer"), blank=True)
    contexts = models.JSONField(_("answer contexts"), default=list, blank=True, help_text=_("Chunk ids given to the LLM."))
    judgments = models.JSONField(_("judge verdicts"), default=dict, blank=True)
    latency_ms = models.FloatField(_("search (ms)"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["run", "pk"]
        verbose_name = _("evaluation result")
        verbose_name_plural = _("evaluation results")
        constraints = [
            models.UniqueConstraint(fields=["run", "question_id"], name="django_rag_evalresult_run_question"),
        ]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.question[:80]}"
class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> Self:
        """Keys that authenticate now: not revoked, not expired, of an active user."""
        from django.db.models.functions import Now

        # Now() is the database's clock (STATEMENT_TIMESTAMP()), so the compiled statement
        # of _ActiveKeyLookup has no time parameter and can be reused.
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=Now())
        )


class _ActiveKeyLookup:
    """The API's per-request key lookup, compiled by the ORM once per database.

    Every API request looks its key up. Building and compiling that QuerySet cost about
    three times the query itself (see "REST API under load" in benchmarks/RESULTS.md), so
    the statement ``ApiKey.objects.active().select_related("user").filter(prefix=...)``
    compiles to is kept, and each request runs it with its prefix and builds the two
    instances from the row. Where the compiled shape is not the plain one (a user model
    with multi-table inheritance, a parameter other than the prefix), it falls back to
    the QuerySet on every request. tests/api/test_auth.py compares both paths.
    """

    _PREFIX_SENTINEL = "\x00django-rag-prefix\x00"

    def __init__(self) -> None:
        self._compiled: dict[str, tuple[str, list[Any], int, int, int] | None] = {}

    def queryset(self, alias: str, prefix: str) -> ApiKeyQuerySet:
        return ApiKey.objects.using(alias).active().select_related("user").filter(prefix=prefix).order_by()

    def _compile(self, alias: str) -> tuple[str, list[Any], int, int, int] | None:
        compiler = self.queryset(alias, self._PREFIX_SENTINEL).query.get_compiler(alias)
        sql, params = compiler.as_sql()
        params = list(params)
        user_model = ApiKey._meta.get_field("user").related_model
        key_columns = len(ApiKey._meta.concrete_fields)
        user_columns = len(user_model._meta.concrete_fields)
        related = compiler.klass_info.get("related_klass_infos") or []
        plain = (
            params.count(self._PREFIX_SENTINEL) == 1
            and list(compiler.klass_info["select_fields"]) == list(range(key_columns))
            and len(related) == 1
            and list(related[0]["select_fields"]) == list(range(key_columns, key_columns + user_columns))
            and len(compiler.select) == key_columns + user_columns
        )
        if not plain:
            return None
        return sql, params, params.index(self._PREFIX_SENTINEL), key_columns, user_columns

    def find(self, prefix: str) -> ApiKey | None:
        from django.db import connections, router

        alias = router.db_for_read(ApiKey)
        if alias not in self._compiled:
            self._compiled[alias] = self._compile(alias)
        compiled = self._compiled[alias]
        if compiled is None:
            return self.queryset(alias, prefix).first()
        sql, params, position, key_columns, user_columns = compiled
        params = list(params)
        params[position] = prefix
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        user_model = ApiKey._meta.get_field("user").related_model
        api_key = ApiKey.from_db(alias, [f.attname for f in ApiKey._meta.concrete_fields], row[:key_columns])
        # An instance of AUTH_USER_MODEL (the stubs type the relation with the settings' user model).
        api_key.user = cast("User", user_model.from_db(
            alias, [f.attname for f in user_model._meta.concrete_fields], row[key_columns : key_columns + user_columns]
        ))
        return api_key


_active_key_lookup = _ActiveKeyLookup()


class ApiKey(models.Model):
    """A bearer token for the REST API, acting as its user.

    Only a SHA-256 hash of the key is stored: the key itself is shown once, when it is
    created (:meth:`create_key`, or the admin's add form). Keys are random 256-bit
    secrets, so a fast hash is enough; a slow password hash would only slow every
    request. The ``prefix`` (the first characters, stored in clear) finds the row and
    tells keys apart in the admin without revealing them.
    """

    PREFIX_LENGTH = 8
    SCHEME = "rag"

    name = models.CharField(_("name"), max_length=200, help_text=_("What the key is for, e.g. 'intranet chatbot'."))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), related_name="rag_api_keys", on_delete=models.CASCADE,
        help_text=_("The key acts as this user: it sees what the user may see."),
    )
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(_("hashed key"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.SCHEME}_{self.prefix}…)"

    @staticmethod
    def hash(key: str) -> str:
        import hashlib

        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    @classmethod
    def generate(cls) -> tuple[str, str]:
        """A new ``(prefix, key)``; the key reads ``rag_<prefix>_<secret>``."""
        import secrets

        prefix = secrets.token_hex(cls.PREFIX_LENGTH // 2)
        return prefix, f"{cls.SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"

    def set_new_key(self) -> str:
        """Give this (unsaved) row a fresh key; returns the key, which is not stored."""
        self.prefix, key = self.generate()
        self.hashed_key = self.hash(key)
        return key

    @classmethod
    def create_key(cls, user: Any, name: str, **fields: Any) -> tuple[ApiKey, str]:
        """Create a key for ``user``; returns the row and the key (show it once)."""
        api_key = cls(user=user, name=name, **fields)
        key = api_key.set_new_key()
        api_key.save()
        return api_key, key

    @classmethod
    def authenticate(cls, key: str) -> ApiKey | None:
        """The active key matching ``key``, or ``None``; records when it was last used."""
        import hmac

        from django.utils import timezone

        scheme, _sep, rest = key.partition("_")
        prefix = rest.split("_", 1)[0]
        if scheme != cls.SCHEME or len(prefix) != cls.PREFIX_LENGTH:
            return None
        api_key = _active_key_lookup.find(prefix)
        if api_key is None or not hmac.compare_digest(api_key.hashed_key, cls.hash(key)):
            return None
        now = timezone.now()
        # One write a minute at most: a busy client must not turn every read into a write.
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
        return api_key

    def revoke(self) -> None:
        from django.utils import timezone

        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    @property
    def is_active(self) -> bool:
        from django.utils import timezone

        if self.revoked_at is not None or not self.user.is_active:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
