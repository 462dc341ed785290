"""User text inside markdown, as plain text.

Run names, tags, query parameters, file names and CSV headers are the user's (or a link's) text,
and error messages quote them. Streamlit renders most of what it shows as GitHub-flavoured
markdown, where ``[x](http://evil)`` is a link, ``![i](http://evil/i.png)`` loads a remote
picture, ``<b>`` is HTML, ``www.evil.com`` and ``a@evil.com`` link themselves, ``$x$`` is LaTeX
and ``:red[x]`` is coloured. CommonMark lets a backslash escape any ASCII punctuation character;
escaping the characters that open those constructs (and the dot of ``www.``) leaves none of them,
while ordinary punctuation (``-``, ``.``, ``(``, ``=``) stays readable in tests and logs.
Newlines become spaces, so no block (heading, list, table) can start either.
"""
from __future__ import annotations

import re

#: Characters that open a link, image, HTML tag, autolink, code, emphasis, LaTeX or directive.
_ACTIVE = re.compile(r"([\\`*_\[\]<>#|~:$@&])")
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")
_WWW = re.compile(r"(www)\.", re.IGNORECASE)


def md(text, limit: int | None = None) -> str:
    """``text`` escaped for markdown: it shows as typed, on one line (cut to ``limit`` chars)."""
    s = _SPACE.sub(" ", "" if text is None else str(text)).strip()
    if limit is not None and len(s) > limit:
        s = s[:limit - 1] + "…"
    return _WWW.sub(r"\1\\.", _ACTIVE.sub(r"\\\1", s))


def error_text(e: BaseException) -> str:
    """A one-line message for people: the error's own text (KeyError's quotes removed)."""
    msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return msg or type(e).__name__


def for_plotly(text) -> str:
    """User text for a plotly title or legend, which read ``<a href>``, ``<b>`` and ``<br>`` as
    markup: angle brackets become look-alike quotes, so no tag is ever formed."""
    return str(text).replace("<", "‹").replace(">", "›")
