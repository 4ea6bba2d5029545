# Changing the embedding model without downtime (django_rag.reembed, docs/embedding-models.md).
#
# Existing vectors stay where they are: Chunk.embedding keeps every vector ingestion made,
# so nothing is moved and nothing can be lost. What is new:
#
# - EmbedderState: which embedder searches use (none active: the "default" alias, as
#   before), and which embedders were re-embedded beside the chunks.
# - django_rag_chunk_embedding: one vector per (chunk, embedder identity) for re-embedded
#   embedders, with a NULL vector and an error for a chunk the embedder failed on. A raw
#   table like the BM25 postings (0002): only django_rag.reembed and the retrieval SQL
#   read it. Like the postings, its rows go with their chunks by statement triggers, for
#   every writer (ingestion's raw DELETE, cascades, TRUNCATE), rather than by a foreign
#   key: Django's test flush truncates the chunk table alone, which a foreign key refuses.

from django.db import migrations, models

CREATE = """
CREATE TABLE django_rag_chunk_embedding (
    chunk_id bigint NOT NULL,
    embedder varchar(255) NOT NULL,
    embedding vector NULL,
    error text NOT NULL DEFAULT '',
    attempts integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chunk_id, embedder)
);
-- The failures of each embedder, for rag_reembed --status (few rows, or none).
CREATE INDEX django_rag_chunk_embedding_failed ON django_rag_chunk_embedding (embedder) WHERE embedding IS NULL;

CREATE FUNCTION django_rag_chunk_embedding_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    -- Most sites never re-embed: then the table is empty and this costs one probe.
    IF EXISTS (SELECT 1 FROM django_rag_chunk_embedding) THEN
        DELETE FROM django_rag_chunk_embedding e USING old_chunks o WHERE e.chunk_id = o.id;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER django_rag_chunk_embedding_delete AFTER DELETE ON django_rag_chunk
    REFERENCING OLD TABLE AS old_chunks FOR EACH STATEMENT EXECUTE FUNCTION django_rag_chunk_embedding_delete();

CREATE FUNCTION django_rag_chunk_embedding_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    TRUNCATE django_rag_chunk_embedding;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER django_rag_chunk_embedding_truncate AFTER TRUNCATE ON django_rag_chunk
    FOR EACH STATEMENT EXECUTE FUNCTION django_rag_chunk_embedding_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS django_rag_chunk_embedding_truncate ON django_rag_chunk;
DROP TRIGGER IF EXISTS django_rag_chunk_embedding_delete ON django_rag_chunk;
DROP FUNCTION IF EXISTS django_rag_chunk_embedding_truncate();
DROP FUNCTION IF EXISTS django_rag_chunk_embedding_delete();
DROP TABLE IF EXISTS django_rag_chunk_embedding;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("django_rag", "0011_document_file_storage"),
    ]

    operations = [
        migrations.CreateModel(
            name="EmbedderState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("alias", models.CharField(help_text='An entry of DJANGO_RAG["EMBEDDERS"].', max_length=100, unique=True, verbose_name="alias")),
                ("identity", models.CharField(help_text="The model and options the stored vectors were made with.", max_length=255, verbose_name="identity")),
                ("dimensions", models.PositiveIntegerField(verbose_name="dimensions")),
                ("active", models.BooleanField(default=False, help_text="Searches and ask() use this embedder.", verbose_name="active")),
                ("side_table", models.BooleanField(default=False, help_text="Its vectors were made by rag_reembed and live beside the chunks, one row per chunk.", verbose_name="re-embedded")),
                ("progress", models.JSONField(blank=True, default=dict, editable=False, verbose_name="progress")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                ("activated_at", models.DateTimeField(blank=True, null=True, verbose_name="activated")),
            ],
            options={
                "verbose_name": "embedder",
                "verbose_name_plural": "embedders",
                "ordering": ["alias"],
                "default_permissions": ("view",),
                "constraints": [
                    models.UniqueConstraint(condition=models.Q(("active", True)), fields=("active",), name="django_rag_embedderstate_one_active"),
                ],
            },
        ),
        migrations.RunSQL(CREATE, DROP),
    ]
