"""User text inside markdown, as plain text.

Run names, tags, query parameters, file names and CSV headers are the user's (or a link's) text,
and error messages quote them. Streamlit renders most of what it shows as GitHub-flavoured
markdown, where ``[x](http://evil)`` is a link, ``![i](http://evil/i.png)`` loads a remote
picture, ``<b>`` is HTML, ``$x$`` is LaTeX and ``:red[x]`` is coloured. CommonMark lets a
backslash escape any ASCII punctuation character; escaping the characters that open those
constructs leaves none of them, while ordinary punctuation (``-``, ``.``, ``(``, ``=``) stays
readable in tests and logs.

Escapes do not stop GFM's autolinks: Streamlit's renderer (remark-gfm) finds ``http://``,
``www.`` and ``name@host`` in the text *after* the escapes are read (tests/test_browser.py saw
it). An invisible WORD JOINER after ``http``, ``https``, ``www`` and ``@`` breaks those patterns,
and the text still reads as typed. Newlines become spaces, so no block (heading, list, table)
can start either.
"""
from __future__ import annotations

import re

#: Characters that open a link, image, HTML tag, autolink, code, emphasis, LaTeX or directive.
_ACTIVE = re.compile(r"([\\`*_\[\]<>#|~:$@&])")
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")
#: Where GFM's autolink literals start: a web address's scheme or ``www.``, an e-mail's ``@``.
_AUTOLINK = re.compile(r"(https?(?=:)|www(?=\.)|@)", re.IGNORECASE)
WORD_JOINER = "\u2060"
_WWW_DOT = re.compile(r"(?<=www" + WORD_JOINER + r")\.", re.IGNORECASE)


def md(text, limit: int | None = None) -> str:
    """``text`` escaped for markdown: it shows as typed, on one line (cut to ``limit`` chars)."""
    s = _SPACE.sub(" ", "" if text is None else str(text)).strip()
    if limit is not None and len(s) > limit:
        s = s[:limit - 1] + "…"
    s = _ACTIVE.sub(r"\\\1", _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, s))
    return _WWW_DOT.sub(r"\\.", s)  # (a dot escaped as well: other renderers link bare domains)


def error_text(e: BaseException) -> str:
    """A one-line message for people: the error's own text (KeyError's quotes removed)."""
    msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return msg or type(e).__name__


def for_plotly(text) -> str:
    """User text for a plotly title or legend, which read ``<a href>``, ``<b>`` and ``<br>`` as
    markup: angle brackets become look-alike quotes, so no tag is ever formed."""
    return str(text).replace("<", "‹").replace(">", "›")


def format_bytes(n: float) -> str:
    """A size for people: 512 B, 1.5 KB, 3.2 MB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def format_seconds(s: float, step: int = 1) -> str:
    """ "40 s", "3 min", "1.5 h": a rough duration; under a minute rounded to ``step`` seconds
    (a time left is given to 5 s: finer would be false precision)."""
    if s < 60:
        return f"{max(step, round(s / step) * step):.0f} s"
    if s < 3600:
        return f"{round(s / 60):.0f} min"
    return f"{s / 3600:.1f} h"
