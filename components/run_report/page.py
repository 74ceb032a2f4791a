"""HTML building blocks for the report page: every piece of text goes through `html.escape`.

The page must open from a bucket, an artifact store or a mail attachment alike, so it is one
self-contained file: inline CSS, relative links to the PNGs beside it, no scripts, nothing fetched.
"""

from __future__ import annotations

import html
from typing import Iterable, Sequence

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f4f4f4; }
img { max-width: 100%; height: auto; border: 1px solid #eee; margin: 0.5rem 0; }
.note { color: #666; font-style: italic; }
.verdict { display: inline-block; padding: 0.3rem 0.8rem; border-radius: 4px; font-weight: bold; }
.blessed { background: #d9f2e3; color: #11603a; }
.not-blessed { background: #fbe0dc; color: #9b2414; }
.unknown { background: #eee; color: #555; }
.tables { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
"""


def escape(text: object) -> str:
    """Text (or a number) safe in HTML content and in quoted attribute values."""
    return html.escape(str(text), quote=True)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A table with one header row; cells are escaped text."""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def image(src: str, alt: str) -> str:
    """An embedded picture, linked to itself so that a click shows it at full size."""
    return f'<a href="{escape(src)}"><img src="{escape(src)}" alt="{escape(alt)}"></a>\n'


def note(text: str) -> str:
    """Why a section has nothing to show: the reader should never wonder whether it was forgotten."""
    return f'<p class="note">{escape(text)}</p>\n'


def paragraph(text: str) -> str:
    """A plain paragraph of escaped text."""
    return f"<p>{escape(text)}</p>\n"


def verdict(label: str, css_class: str) -> str:
    """A coloured badge (the blessing decision)."""
    return f'<span class="verdict {escape(css_class)}">{escape(label)}</span>\n'


def links(items: Iterable[tuple[str, str]]) -> str:
    """A bulleted list of (text, relative href) links."""
    entries = "".join(f'<li><a href="{escape(href)}">{escape(text)}</a></li>\n' for text, href in items)
    return f"<ul>\n{entries}</ul>\n"


def side_by_side(*fragments: str) -> str:
    """Fragments (usually tables) next to each other, wrapping on narrow screens."""
    cells = "".join(f"<div>{fragment}</div>\n" for fragment in fragments)
    return f'<div class="tables">\n{cells}</div>\n'


def document(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """The whole page: the title, then each (heading, html body) section in order."""
    body = "".join(
        f"<section>\n<h2>{escape(heading)}</h2>\n{content}</section>\n" for heading, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<h1>{escape(title)}</h1>\n{body}</body>\n</html>\n"
    )
