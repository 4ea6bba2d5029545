"""The keyword leg's unfiltered BM25 search as a PL/pgSQL function.

``django_rag_bm25_search(query, config, budget, max_rows)`` returns the ``max_rows``
best chunks for ``query`` as ``(id, rank, score)``, exactly as the statement that
django_rag.retrieval used to inline: each query term's idf from ``django_rag_term`` and
``django_rag_corpus``, its best postings from the ``(config, lexeme, impact DESC)``
index (the rarest term reads ``budget`` of them, the others in proportion to their
idf), scores summed per chunk. ``config`` NULL searches every text search
configuration in the corpus.

Why a function: PL/pgSQL keeps the parsed and planned statement for the life of the
connection, where an inlined statement is parsed, analysed and planned on every search.
That was a quarter of the keyword leg's time at 100,000 chunks (2.35 -> 1.8 ms p50,
benchmarks/RESULTS.md). Filtered searches still inline their second pass, which has the
site's own filter in it.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION django_rag_bm25_search(query text, config regconfig, budget integer, max_rows integer)
RETURNS TABLE (id bigint, rank bigint, score double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 100 AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH query_terms AS (
        SELECT DISTINCT s.config, t.lexeme, s.chunks
        FROM django_rag_corpus s CROSS JOIN LATERAL unnest(to_tsvector(s.config, query)) AS t
        WHERE django_rag_bm25_search.config IS NULL OR s.config = django_rag_bm25_search.config
    ), weighted_terms AS MATERIALIZED (
        -- float8 throughout: numeric ln() per row cost more than the index scan.
        SELECT config, lexeme, idf, idf / max(idf) OVER () AS share FROM (
            SELECT q.config, q.lexeme,
                   ln(1.0::float8 + (q.chunks - t.df + 0.5::float8) / (t.df + 0.5::float8)) AS idf
            FROM query_terms q JOIN django_rag_term t ON t.config = q.config AND t.lexeme = q.lexeme
            WHERE t.df > 0
        ) idfs
    ), scored AS (
        SELECT p.chunk_id AS id, sum(w.idf * p.impact) AS score
        FROM weighted_terms w CROSS JOIN LATERAL (
            SELECT p.chunk_id, p.impact FROM django_rag_posting p
            WHERE p.config = w.config AND p.lexeme = w.lexeme
            ORDER BY p.impact DESC LIMIT ceil(budget * w.share)::int
        ) p
        GROUP BY p.chunk_id ORDER BY score DESC, id LIMIT max_rows
    )
    SELECT s.id, row_number() OVER (ORDER BY s.score DESC, s.id) AS rank, s.score::double precision
    FROM scored s ORDER BY 2;
END
$fn$;
"""

DROP = "DROP FUNCTION IF EXISTS django_rag_bm25_search(text, regconfig, integer, integer);"


class Migration(migrations.Migration):
    dependencies = [("django_rag", "0008_document_restricted_index")]

    operations = [migrations.RunSQL(CREATE, DROP)]
