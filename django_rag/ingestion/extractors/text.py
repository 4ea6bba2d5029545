"""Plain text: one section, decoded from whatever encoding it is in."""

from __future__ import annotations

from .base import Extracted, Extractor, Limits, Section, decode_text


class TextExtractor(Extractor):
    format = "text"
    label = "text"
    extensions = (".txt", ".text", ".log", ".rst")  # .csv: csv.py
    content_types = ("text/plain",)
    version = "1"
    reads_text = True

    def extract(self, data: bytes, limits: Limits) -> Extracted:
        text, encoding = decode_text(data)
        return Extracted(self.format, [Section(text)], {"encoding": encoding})
