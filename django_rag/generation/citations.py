"""Find ``[n]`` citations in an answer and keep only those that point at a source."""

from __future__ import annotations

import re

# [1], [2, 3], [2;3], [ 4 ] - the forms models actually write.
CITATION = re.compile(r"\[\s*(\d{1,100}(?:\s*[,;]\s*\d{1,100})*)\s*\]")


def cited_numbers(text: str, source_count: int) -> list[int]:
    """Source numbers cited in ``text``, in order of first citation, valid ones only."""
    seen: dict[int, None] = {}
    for match in CITATION.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            number = int(part)
            if 1 <= number <= source_count:
                seen.setdefault(number, None)
    return list(seen)


def remove_invalid_citations(text: str, source_count: int) -> str:
    """Drop citation numbers with no source (``[7]`` of 5 sources) so readers are not misled."""

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [p.strip() for p in re.split(r"[,;]", match.group(1))]
        valid = [n for n in numbers if 1 <= int(n) <= source_count]
        return f"[{', '.join(valid)}]" if valid else ""

    cleaned = CITATION.sub(keep_valid, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned) if cleaned != text else text
