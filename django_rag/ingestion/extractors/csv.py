"""CSV and TSV: a row per line, cut into groups of rows that each repeat the header.

A row means little without its column names ("42 | 2019 | yes"), so the splitter
gives every chunk the header line first (see splitting.py: sections that carry a
``_header``). Each row is one line: cells are joined with " | ", as HTML and Word tables
are, and a cell's own line breaks become spaces.
"""

from __future__ import annotations

import csv
import io

from ...exceptions import CorruptFile, EmptyDocument
from .base import Extracted, Extractor, Limits, Section, decode_text


class CSVExtractor(Extractor):
    format = "csv"
    label = "CSV"
    extensions = (".csv", ".tsv")
    content_types = ("text/csv", "text/tab-separated-values")
    version = "1"
    reads_text = True

    def extract(self, data: bytes, limits: Limits) -> Extracted:
        text, encoding = decode_text(data)
        sample = text[:65536]
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel_tab if "\t" in sample.split("\n", 1)[0] else csv.excel
        reader = csv.reader(io.StringIO(text, newline=""), dialect, strict=True)
        rows = []
        try:
            for row in reader:
                cells = [" ".join(cell.split()) for cell in row]
                if any(cells):
                    rows.append(cells)
        except csv.Error as exc:
            raise CorruptFile(f"The CSV file could not be read at line {reader.line_num}: {exc}.") from exc
        if not rows:
            raise EmptyDocument("The CSV file has no rows.")
        header, body = rows[0], rows[1:]
        if not body:
            raise EmptyDocument("The CSV file has a header but no rows.")
        columns = len(header)
        metadata = {"encoding": encoding, "rows": len(body), "columns": columns, "delimiter": dialect.delimiter}
        section = Section("\n".join(" | ".join(row) for row in body), {"_header": " | ".join(header)})
        return Extracted(self.format, [section], metadata)
