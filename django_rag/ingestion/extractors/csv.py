"""CSV and TSV: a row per line, cut into groups of rows that each repeat the header.

A row means little without its column names ("42 | 2019 | yes"), so the splitter
gives every chunk the header line first (see splitting.py: sections that carry a
``_header``), and each chunk says which rows it holds (``rows``: "1-40"). Each row is
one line: cells are joined with " | ", as HTML and Word tables are, and a cell's own
line breaks become spaces. The first row is taken as the header.

The delimiter (comma, semicolon, tab or pipe) is sniffed from the first lines; the
encoding is found as for text files (``decode_text``: a byte-order mark, UTF-8,
Windows-1252, Latin-1).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ...exceptions import CorruptFile, EmptyDocument, FileTooLarge
from .base import Extracted, Extractor, Limits, Section, decode_text, too_long

#: How much of the file the delimiter is sniffed from (whole lines of it): enough for
#: dozens of rows, and little enough that the sniffer's regular expressions, which
#: backtrack over the sample for each quote, stay fast on a file crafted to be slow.
SNIFF_BYTES = 8 * 1024
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
    """RFC 4180 CSV with the delimiter of the first lines: the comma (or the tab, if the
    first line has one) when that is unclear.

    Only the delimiter is taken from ``csv.Sniffer``: its guesses of quoting are drawn
    from the sample alone, and a wrong ``doublequote=False`` breaks every later cell
    that holds a doubled quote (``"say ""yes"" "``). The sample ends at a line break, so the
    sniffer never sees a last row cut short.
    """
    sample = text[:SNIFF_BYTES]
    if len(text) > SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    first_line = sample.split("\n", 1)[0]
    fallback = "\t" if "\t" in first_line else ","
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = fallback
    # The sniffer can take a character that only appears inside the cells for the
    # delimiter; one the header line does not even contain is not it.
    if delimiter not in first_line:
        delimiter = fallback
    return type("SniffedDialect", (csv.excel,), {"delimiter": delimiter, "strict": True})
