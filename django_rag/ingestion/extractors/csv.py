"""CSV and TSV: a row per line, cut into groups of rows that each repeat the header.

A row means little without its column names ("42 | 2019 | yes"), so the splitter
gives every chunk the header line first (see splitting.py: sections that carry a
``_header``), and each chunk says which rows it holds (``rows``: "1-40"). Each row is
one line: cells are joined with " | ", as HTML and Word tables are, and a cell's own
line breaks become spaces. The first row is taken as the header.

The delimiter (comma, semicolon, tab or pipe) is found from the first rows; the
encoding is found as for text files (``decode_text``: a byte-order mark, UTF-8,
Windows-1252, Latin-1).
"""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any

from ...exceptions import CorruptFile, EmptyDocument, FileTooLarge
from .base import Extracted, Extractor, Limits, Section, decode_text, too_long

#: How much of the file the delimiter is found from (whole lines of it).
SNIFF_BYTES = 64 * 1024
SNIFF_ROWS = 50
_DELIMITERS = ",;\t|"


class CSVExtractor(Extractor):
    format = "csv"
    label = "CSV"
    extensions = (".csv", ".tsv")
    content_types = ("text/csv", "text/tab-separated-values")
    version = "1"
    reads_text = True
    #: The most data rows one file may have: each group of rows is a chunk to embed. A
    #: site can subclass with another limit, registered under the same format.
    max_rows = 100_000

    def extract(self, data: bytes, limits: Limits) -> Extracted:
        text, encoding = decode_text(data)
        dialect = sniff_dialect(text)
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        rows: list[list[str]] = []
        length = 0
        try:
            for row in reader:
                cells = [" ".join(cell.split()) for cell in row]
                if not any(cells):
                    continue  # a blank line
                rows.append(cells)
                length += sum(len(cell) + 3 for cell in cells)
                if limits.max_length is not None and length > limits.max_length:
                    raise too_long(limits.max_length, limits.max_length, at_least=True)
                if len(rows) > self.max_rows + 1:  # the header is not a data row
                    raise FileTooLarge(
                        f"The CSV file has more than {self.max_rows:,} rows, the most one file may have. "
                        "Split it into several files."
                    )
        except csv.Error as exc:  # an unclosed quote, a cell over csv's 131,072 characters...
            raise CorruptFile(f"The CSV file could not be read at line {reader.line_num}: {exc}.") from exc
        if not rows:
            raise EmptyDocument("The CSV file has no rows.")
        header, body = rows[0], rows[1:]
        if not body:
            raise EmptyDocument("The CSV file has a header but no rows under it.")
        metadata: dict[str, Any] = {
            "encoding": encoding, "rows": len(body), "columns": len(header), "delimiter": dialect.delimiter,
        }
        section = Section("\n".join(" | ".join(row) for row in body), {"_header": " | ".join(header)})
        return Extracted(self.format, [section], metadata)


def sniff_dialect(text: str) -> type[csv.Dialect]:
    """RFC 4180 CSV with the delimiter of the first rows.

    Each candidate (comma, semicolon, tab, pipe) reads the first ``SNIFF_ROWS`` rows with
    csv's own parser, which knows quotes; the delimiter is the one that splits the header
    into columns and gives the most rows that many. Ties go to the earlier candidate;
    when none splits the header, the comma. ``csv.Sniffer`` is not used: its regular
    expressions backtrack over the sample for each quote (5 s for 32 KB of ``,"``), and
    its guesses of quoting are drawn from the sample alone (a wrong ``doublequote=False``
    would break every later cell holding a doubled quote).
    """
    sample = text[:SNIFF_BYTES]
    if len(text) > SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # no last row cut short
    best, best_share = ",", 0.0
    for delimiter in _DELIMITERS:
        rows = [
            row for row in itertools.islice(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter), SNIFF_ROWS)
            if any(cell.strip() for cell in row)
        ]
        if not rows or len(rows[0]) < 2:
            continue
        share = sum(len(row) == len(rows[0]) for row in rows) / len(rows)
        if share > best_share:
            best, best_share = delimiter, share
    return type("SniffedDialect", (csv.excel,), {"delimiter": best, "strict": True})
