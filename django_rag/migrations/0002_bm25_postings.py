"""BM25 postings kept by PostgreSQL itself.

Three tables back the keyword leg of retrieval:

- ``django_rag_posting``: one row per (chunk, lexeme) with the BM25 term-frequency part
  of the score, ``impact = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``
  (k1 = 1.2, b = 0.75), and a btree on ``(config, lexeme, impact DESC) INCLUDE
  (chunk_id)`` so a query reads each term's best postings first, from the index alone.
- ``django_rag_term``: document frequency per (text search config, lexeme), for idf.
- ``django_rag_corpus``: chunk count and token count per config, for N and avgdl.

Statement-level triggers with transition tables keep them right for every writer of
``django_rag_chunk``: the ORM, ``COPY``, raw SQL, cascades and ``TRUNCATE``. A
transaction-scoped advisory lock serialises the statistics updates, which would
otherwise deadlock when two transactions touch common lexemes in different orders.

``avgdl`` is the one at the time a chunk is written; ``manage.py rag_reindex_bm25``
(django_rag.bm25.rebuild) recomputes every impact when the corpus has grown.
"""

from django.db import migrations

CREATE = r"""
CREATE TABLE django_rag_posting (
    config regconfig NOT NULL,
    lexeme text NOT NULL,
    chunk_id bigint NOT NULL,
    impact real NOT NULL
);
CREATE INDEX django_rag_posting_impact ON django_rag_posting (config, lexeme, impact DESC) INCLUDE (chunk_id);
CREATE INDEX django_rag_posting_chunk ON django_rag_posting (chunk_id);

CREATE TABLE django_rag_term (
    config regconfig NOT NULL,
    lexeme text NOT NULL,
    df integer NOT NULL,
    PRIMARY KEY (config, lexeme)
);

-- Bumped by every statement that changes chunks; cached answers are keyed by it, so an
-- answer never outlives a change to the documents it could have used. A sequence, not a
-- row: no lock to wait for, and a rollback only costs a spurious cache miss.
CREATE SEQUENCE django_rag_index_version;

CREATE TABLE django_rag_corpus (
    config regconfig PRIMARY KEY,
    chunks bigint NOT NULL,
    tokens bigint NOT NULL
);

CREATE FUNCTION django_rag_bm25_index() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(1380009728, 1);  -- 'RAG\0', 1: BM25 statistics
    PERFORM nextval('django_rag_index_version');
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        WITH terms AS (
            SELECT o.id AS chunk_id, o.language AS config,
                   coalesce(array_length(t.positions, 1), 1) AS tf
            FROM old_chunks o, unnest(o.search_vector) AS t
        ), per_config AS (
            SELECT config, count(DISTINCT chunk_id) AS chunks, sum(tf) AS tokens FROM terms GROUP BY config
        ), corpus AS (
            UPDATE django_rag_corpus s
            SET chunks = greatest(s.chunks - p.chunks, 0), tokens = greatest(s.tokens - p.tokens, 0)
            FROM per_config p WHERE s.config = p.config
        ), df AS (
            UPDATE django_rag_term t SET df = t.df - d.n
            FROM (SELECT o.language AS config, t.lexeme, count(*) AS n
                  FROM old_chunks o, unnest(o.search_vector) AS t GROUP BY 1, 2) d
            WHERE t.config = d.config AND t.lexeme = d.lexeme
        )
        DELETE FROM django_rag_posting p USING old_chunks o WHERE p.chunk_id = o.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        WITH terms AS (
            SELECT n.id AS chunk_id, n.language AS config, t.lexeme,
                   coalesce(array_length(t.positions, 1), 1) AS tf
            FROM new_chunks n, unnest(n.search_vector) AS t
        ), lengths AS (
            SELECT chunk_id, config, sum(tf) AS dl FROM terms GROUP BY chunk_id, config
        ), corpus AS (
            INSERT INTO django_rag_corpus AS s (config, chunks, tokens)
            SELECT config, count(*), sum(dl) FROM lengths GROUP BY config ORDER BY config
            ON CONFLICT (config) DO UPDATE
            SET chunks = s.chunks + excluded.chunks, tokens = s.tokens + excluded.tokens
            RETURNING s.config, s.tokens::float8 / greatest(s.chunks, 1) AS avgdl
        ), df AS (
            INSERT INTO django_rag_term AS t (config, lexeme, df)
            SELECT config, lexeme, count(*) FROM terms GROUP BY config, lexeme ORDER BY config, lexeme
            ON CONFLICT (config, lexeme) DO UPDATE SET df = t.df + excluded.df
        )
        INSERT INTO django_rag_posting (config, lexeme, chunk_id, impact)
        SELECT terms.config, terms.lexeme, terms.chunk_id,
               terms.tf * 2.2 / (terms.tf + 1.2 * (0.25 + 0.75 * lengths.dl / corpus.avgdl))
        FROM terms
        JOIN lengths ON lengths.chunk_id = terms.chunk_id
        JOIN corpus ON corpus.config = terms.config;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION django_rag_bm25_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    TRUNCATE django_rag_posting, django_rag_term, django_rag_corpus;
    PERFORM nextval('django_rag_index_version');
    RETURN NULL;
END
$fn$;

CREATE TRIGGER django_rag_chunk_bm25_insert AFTER INSERT ON django_rag_chunk
    REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION django_rag_bm25_index();
CREATE TRIGGER django_rag_chunk_bm25_update AFTER UPDATE ON django_rag_chunk
    REFERENCING OLD TABLE AS old_chunks NEW TABLE AS new_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION django_rag_bm25_index();
CREATE TRIGGER django_rag_chunk_bm25_delete AFTER DELETE ON django_rag_chunk
    REFERENCING OLD TABLE AS old_chunks FOR EACH STATEMENT EXECUTE FUNCTION django_rag_bm25_index();
CREATE TRIGGER django_rag_chunk_bm25_truncate AFTER TRUNCATE ON django_rag_chunk
    FOR EACH STATEMENT EXECUTE FUNCTION django_rag_bm25_truncate();

-- Recompute all statistics and impacts from the chunks (backfill, and refreshing
-- impacts once avgdl has drifted: django_rag.bm25.rebuild()).
CREATE FUNCTION django_rag_bm25_rebuild() RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    written bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(1380009728, 1);
    TRUNCATE django_rag_posting, django_rag_term, django_rag_corpus;
    CREATE TEMPORARY TABLE django_rag_terms_tmp ON COMMIT DROP AS
        SELECT c.id AS chunk_id, c.language AS config, t.lexeme,
               coalesce(array_length(t.positions, 1), 1) AS tf
        FROM django_rag_chunk c, unnest(c.search_vector) AS t;
    CREATE TEMPORARY TABLE django_rag_lengths_tmp ON COMMIT DROP AS
        SELECT chunk_id, config, sum(tf) AS dl FROM django_rag_terms_tmp GROUP BY chunk_id, config;
    INSERT INTO django_rag_corpus (config, chunks, tokens)
        SELECT config, count(*), sum(dl) FROM django_rag_lengths_tmp GROUP BY config;
    INSERT INTO django_rag_term (config, lexeme, df)
        SELECT config, lexeme, count(*) FROM django_rag_terms_tmp GROUP BY config, lexeme;
    INSERT INTO django_rag_posting (config, lexeme, chunk_id, impact)
        SELECT t.config, t.lexeme, t.chunk_id,
               t.tf * 2.2 / (t.tf + 1.2 * (0.25 + 0.75 * l.dl / (s.tokens::float8 / greatest(s.chunks, 1))))
        FROM django_rag_terms_tmp t
        JOIN django_rag_lengths_tmp l ON l.chunk_id = t.chunk_id
        JOIN django_rag_corpus s ON s.config = t.config;
    GET DIAGNOSTICS written = ROW_COUNT;
    DROP TABLE django_rag_terms_tmp, django_rag_lengths_tmp;
    RETURN written;
END
$fn$;

SELECT django_rag_bm25_rebuild();
"""

DROP = r"""
DROP TRIGGER IF EXISTS django_rag_chunk_bm25_insert ON django_rag_chunk;
DROP TRIGGER IF EXISTS django_rag_chunk_bm25_update ON django_rag_chunk;
DROP TRIGGER IF EXISTS django_rag_chunk_bm25_delete ON django_rag_chunk;
DROP TRIGGER IF EXISTS django_rag_chunk_bm25_truncate ON django_rag_chunk;
DROP FUNCTION IF EXISTS django_rag_bm25_index();
DROP FUNCTION IF EXISTS django_rag_bm25_truncate();
DROP FUNCTION IF EXISTS django_rag_bm25_rebuild();
DROP TABLE IF EXISTS django_rag_posting, django_rag_term, django_rag_corpus;
DROP SEQUENCE IF EXISTS django_rag_index_version;
"""


class Migration(migrations.Migration):
    dependencies = [("django_rag", "0001_initial")]

    operations = [
        migrations.RunSQL(CREATE, DROP),
    ]
