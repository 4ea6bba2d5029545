"""Generation: answers with citations from retrieved chunks."""

from .answers import Answer, Source, aask, ask, stream

__all__ = ["Answer", "Source", "aask", "ask", "stream"]
