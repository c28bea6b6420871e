"""A small reader of the BibTeX the package writes, for the report's list of references.

Neither ``pybtex`` nor ``bibtexparser`` is a dependency of nmfexp; this reader
covers what ``nmfexp/references.bib`` and the entries made by
:mod:`nmfexp.citation` use: ``@type{key, name = {braced value}, ...}`` with
nested braces, ``"quoted"`` and bare values (numbers), ``\\url{...}``, the
escapes of :func:`nmfexp.citation._escape` and accents such as ``{\\'e}``.
A test reads every entry of the shipped file with it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

__all__ = ["BibEntry", "parse_bibtex", "format_reference"]

_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "c": "\u0327",
            "=": "\u0304", "u": "\u0306", "v": "\u030c", "H": "\u030b", ".": "\u0307"}
_URL = re.compile(r"https?://[^\s,;{}]+")


@dataclass
class BibEntry:
    """One BibTeX entry: its type (lower case), key and fields (names lower case, values as written)."""

    type: str
    key: str
    fields: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """The field ``name`` as plain text (LaTeX markup removed), or ``""``."""
        return latex_to_text(self.fields.get(name, ""))


def _value(text: str, i: int) -> tuple[str, int]:
    """The value starting at ``text[i]`` (braced, quoted or bare) and the index after it."""
    if text[i] == "{":
        depth, start = 0, i
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                return text[start + 1:j], j + 1
        raise ValueError(f"unbalanced braces in a BibTeX value starting {text[i:i + 40]!r}")
    if text[i] == '"':
        depth = 0
        for j in range(i + 1, len(text)):
            c = text[j]
            depth += {"{": 1, "}": -1}.get(c, 0)
            if c == '"' and depth == 0:
                return text[i + 1:j], j + 1
        raise ValueError(f"unterminated quoted BibTeX value starting {text[i:i + 40]!r}")
    m = re.match(r"[^,}\s]+", text[i:])
    if not m:
        raise ValueError(f"no BibTeX value at {text[i:i + 40]!r}")
    return m.group(0), i + m.end()


def parse_bibtex(text: str) -> dict[str, BibEntry]:
    """Every entry of ``text`` by key, in order (``@comment``, ``@string`` and ``@preamble`` are skipped).

    Parameters
    ----------
    text : str
        BibTeX source.

    Returns
    -------
    dict of str to BibEntry

    Raises
    ------
    ValueError
        For an entry whose braces do not balance or whose fields cannot be read.
    """
    out: dict[str, BibEntry] = {}
    for m in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        kind = m.group(1).lower()
        if kind in ("comment", "string", "preamble"):
            continue
        entry, i = BibEntry(kind, m.group(2)), m.end()
        while True:
            f = re.compile(r"\s*(?:,\s*)?([A-Za-z][\w-]*)\s*=\s*").match(text, i)
            if not f:
                break
            value, i = _value(text, f.end())
            entry.fields[f.group(1).lower()] = value
        if not re.match(r"\s*,?\s*\}", text[i:]):
            raise ValueError(f"cannot read the fields of BibTeX entry {entry.key!r} near {text[i:i + 40]!r}")
        out[entry.key] = entry
    return out


def latex_to_text(value: str) -> str:
    """``value`` without the LaTeX markup BibTeX fields use (accents become Unicode)."""
    text = re.sub(r"\\url\{([^}]*)\}", r"\1", value)
    text = text.replace("\\textbackslash{}", "\x00")

    def accent(m):
        return unicodedata.normalize("NFC", m.group(2) + _ACCENTS[m.group(1)])

    text = re.sub(r"\{?\\([`'^\"~=.])\{?([A-Za-z])\}?\}?", accent, text)
    text = re.sub(r"\{?\\([cuvH])\{([A-Za-z])\}\}?", accent, text)
    text = re.sub(r"\\([&%#$_])", r"\1", text)
    text = re.sub(r"\\(?:textit|textbf|emph|texttt)\{([^}]*)\}", r"\1", text)
    text = text.replace("---", "\u2014").replace("--", "\u2013").replace("~", "\u00a0")
    text = text.replace("{", "").replace("}", "").replace("\x00", "\\")
    return re.sub(r"\s+", " ", text).strip()


def _authors(value: str) -> str:
    names = []
    for name in re.split(r"\s+and\s+", latex_to_text(value)):
        if name == "others":
            names.append("et al.")
            continue
        last, _, first = name.partition(", ")
        names.append(f"{first} {last}".strip() if first else name)
    if len(names) > 1 and names[-1] != "et al.":
        return ", ".join(names[:-1]) + " and " + names[-1]
    return ", ".join(names).replace(", et al.", " et al.")


def entry_url(entry: BibEntry) -> str:
    """The entry's web address: ``url``, a ``\\url{}`` or address in ``howpublished``/``note``, or its DOI."""
    for name in ("url", "howpublished", "note"):
        m = _URL.search(latex_to_text(entry.fields.get(name, "")))
        if m:
            return m.group(0).rstrip(".")
    doi = entry.text("doi")
    return f"https://doi.org/{doi}" if doi else ""


def format_reference(entry: BibEntry) -> str:
    """One reference as HTML: authors, *title*, venue, year, and its address as a link.

    Every piece is escaped; only ``http(s)`` addresses become links.
    """
    venue = (entry.text("journal") or entry.text("booktitle") or entry.text("organization")
             or entry.text("publisher"))
    howpublished = entry.text("howpublished")
    url = entry_url(entry)
    if howpublished and not venue and _URL.sub("", howpublished).strip(" ;,"):
        venue = _URL.sub("", howpublished).strip(" ;,")
    if venue and entry.text("volume"):
        venue += f" {entry.text('volume')}" + (f"({entry.text('number')})" if entry.text("number") else "")
    if venue and entry.text("pages"):
        venue += f", {entry.text('pages')}"
    parts = []
    if entry.fields.get("author"):
        parts.append(html.escape(_authors(entry.fields["author"])))
    parts.append(f"<em>{html.escape(entry.text('title').rstrip('.') or entry.key)}</em>")
    if venue:
        parts.append(html.escape(venue))
    if entry.text("year"):
        parts.append(html.escape(entry.text("year")))
    text = ". ".join(parts) + "."
    if entry.text("note"):
        text += f" {html.escape(_URL.sub('', entry.text('note')).strip(' ;,').rstrip('.'))}."
    if url:
        text += f" <a href=\"{html.escape(url)}\">{html.escape(url)}</a>"
    return text
