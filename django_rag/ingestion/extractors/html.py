"""HTML: the page's main content (BeautifulSoup), cut into sections at its headings.

With the ``html`` extra (beautifulsoup4) a page is first reduced to its main content:
``<main>``, else its ``<article>``, else ``<body>``, without navigation, scripts, styles,
forms, headers and footers of the page, and cookie or consent banners. Without it, the
whole page's text is read (scripts and styles aside), as before the extra existed: a
page then keeps its menus in its chunks. The reduced HTML is then read by a small
parser of the standard library that follows headings (the section path) and puts each
table row on one line.
"""

from __future__ import annotations

import importlib.util
import re
from html.parser import HTMLParser
from typing import Any

from .base import Extracted, Extractor, Limits, Section, clip_title, decode_text, heading_metadata


class HTMLExtractor(Extractor):
    format = "html"
    label = "HTML"
    extensions = (".html", ".htm", ".xhtml")
    content_types = ("text/html", "application/xhtml+xml")
    # 2: main content only (with beautifulsoup4). 3: ``heading`` (the innermost heading).
    version = "3"
    reads_text = True

    def main_content(self) -> bool:
        return importlib.util.find_spec("bs4") is not None

    def signature(self) -> str:
        return super().signature() + ("" if self.main_content() else "-whole-page")

    def extract(self, data: bytes, limits: Limits) -> Extracted:
        text, encoding = decode_text(data)
        page_title = ""
        if self.main_content():
            text, page_title = main_content(text)
        sections, title = _extract_html(text, page_title)
        extracted = Extracted(self.format, sections, {"encoding": encoding})
        if title:
            extracted.metadata["title"] = title
        return extracted


# Never content: scripts and the like, and the page's own furniture.
_DROPPED_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "canvas",
                 "button", "dialog", "select", "input", "textarea")
# The page's furniture, unless it holds most of the page (ASP.NET wraps whole pages in a <form>).
_FURNITURE_TAGS = ("nav", "aside", "form")
_DROPPED_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menu",
                  "menubar"}
# Cookie and consent banners (Cookiebot, OneTrust, Osano, cookieconsent, GDPR notices)
# by their ids and classes, and the usual furniture that is not in a <nav>.
_BOILERPLATE = re.compile(
    r"cookie|consent|gdpr|onetrust|osano|"
    r"(?:^|[-_\s])(?:breadcrumbs?|sidebar|newsletter|skip-?link|share-?buttons|social-?links|site-?header|site-?footer)"
    r"(?:$|[-_\s])",
    re.IGNORECASE,
)


def main_content(html: str) -> tuple[str, str]:
    """``(the main content as HTML, the page's <title>)``."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(html, "html.parser")
    page_title = clip_title(soup.title.get_text(" ")) if soup.title else ""
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    root = soup.find("main") or soup.find(None, attrs={"role": "main"})
    if root is None:
        articles = soup.find_all("article")
        # One article is the page's content; several are a list of teasers, read whole.
        root = articles[0] if len(articles) == 1 else (soup.body or soup)
    total = len(root.get_text(" ", strip=True)) or 1
    for tag in root.find_all(True):
        if not isinstance(tag, Tag) or tag.decomposed:
            continue
        attrs = tag.attrs or {}
        role = str(attrs.get("role", "")).lower()
        marks = " ".join([str(attrs.get("id", "")), *(attrs.get("class") or [])])
        furniture = tag.name in _FURNITURE_TAGS or tag.name in ("header", "footer") and tag.find_parent(("article", "main", "section")) is None
        if role in _DROPPED_ROLES or furniture or (marks.strip() and _BOILERPLATE.search(marks)):
            # A wrapper whose class says "cookie" but that holds most of the page (a
            # "has-cookie-banner" <div> around everything) is not a banner.
            if len(tag.get_text(" ", strip=True)) < total / 2:
                tag.decompose()
    return str(root), page_title


_SKIPPED_TAGS = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
# What may appear inside <head>; any other start tag means the body has begun, since
# HTML lets a page leave out both </head> and <body>.
_HEAD_CONTENT = {"title", "meta", "link", "style", "script", "base", "noscript", "template"}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "li", "ul", "ol",
    "table", "br", "hr", "blockquote", "pre", "dt", "dd", "dl", "figure", "figcaption", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "title", "caption",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.parts: list[str] = []
        self.has_body = False
        self.skipping: list[str] = []  # open skipped elements, innermost last
        self.heading_level = 0
        self.heading_parts: list[str] = []
        self.row_cells = 0
        self.tables = 0
        self.in_cell = False
        self.title: list[str] = []
        self.in_title = False
        self.first_headings: dict[int, str] = {}  # level: the first heading of that level

    def flush(self) -> None:
        body = re.sub(r"[ \t]+", " ", "".join(self.parts))
        body = re.sub(r" *\n *", "\n", body).strip()
        if body:
            self.sections.append(Section(body, heading_metadata([t for _, t in self.path])))
        self.parts = []
        self.has_body = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if self.skipping == ["head"] and (tag == "body" or tag not in _HEAD_CONTENT):
            self.skipping.clear()
        if tag == "title":
            self.in_title = True
        if tag in _SKIPPED_TAGS:
            self.skipping.append(tag)
            return
        if self.skipping:
            return
        if tag in _HEADINGS:
            # A heading right after another keeps the earlier one in its text rather
            # than leaving a section that is nothing but a title.
            if self.has_body:
                self.flush()
            self.heading_level = _HEADINGS[tag]
            self.heading_parts = []
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "table":
            self.tables += 1
        elif tag == "tr":
            # One line per row (a row ends where the next begins, so rows stay adjacent).
            self.parts.append("\n")
            self.row_cells, self.in_cell = 0, False
        elif tag in {"td", "th"}:
            # Cells of a row on one line, "Parental | 20 days", reads like the table.
            if self.row_cells:
                self.parts.append(" | ")
            self.row_cells += 1
            self.in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _SKIPPED_TAGS:
            if tag in self.skipping:
                while self.skipping.pop() != tag:
                    pass
            return
        if self.skipping:
            return
        if tag in _HEADINGS and self.heading_level:
            title = " ".join("".join(self.heading_parts).split())
            level = self.heading_level
            self.heading_level = 0
            if title:
                self.first_headings.setdefault(level, title)
                self.path = [(lvl, t) for lvl, t in self.path if lvl < level] + [(level, title)]
        if tag == "table":
            self.tables = max(0, self.tables - 1)
        elif tag in {"td", "th"}:
            self.in_cell = False
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        if self.skipping:
            return
        if self.tables and not self.in_cell and not data.strip():
            return  # the indentation between <tr> and <td> tags is not text
        if self.heading_level:
            self.heading_parts.append(data)
        elif data.strip():
            self.has_body = True
        self.parts.append(data)


def extract_html(text: str) -> list[Section]:
    return _extract_html(text)[0]


def _extract_html(text: str, page_title: str = "") -> tuple[list[Section], str]:
    """The sections and the title: the first <h1>, else <title>, else the first heading."""
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    parser.flush()
    headings = parser.first_headings
    title = headings.get(1) or page_title or " ".join("".join(parser.title).split()) or (headings[min(headings)] if headings else "")
    return parser.sections, title[:500]
