"""``index.html``: one page with every figure and table of a run, its environment, the
deviations from the paper and what to cite.

Written by ``nmfexp-reproduce`` and ``nmfexp-plot --report`` next to the figures
(images are linked by relative path, so the folder can be moved or zipped and
the page opened from the file system). No template engine: plain string
building with :func:`html.escape`.

The deviations from the paper are the package's own text,
``nmfexp/figures/deviations.md`` (package data); docs/reproduction.md's section
"Where this reproduction deviates from the paper" says the same (a test checks it).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from ..record import schema
from .bib import format_reference, parse_bibtex
from .closing import budget_of
from .registry import ARTIFACTS, CAPTIONS
from .stats import GENERIC_STATISTIC_NOTES, STATISTIC_NOTES, concurrent_note
from .style import FIGURE_FORMATS, TABLE_FORMATS

__all__ = ["write_report", "deviations_markdown", "markdown_to_html", "DEVIATIONS_HEADING"]

DEVIATIONS_HEADING = "Where this reproduction deviates from the paper"
_ROWS_SHOWN = 40  # longer tables are folded (<details>)

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{font-size:1.05em}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#444}
table{border-collapse:collapse;font-size:.82em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.2em .45em;
text-align:right;vertical-align:top}th{background:#f4f4f4}td.text,th.text{text-align:left}
.scroll{overflow-x:auto}.note{font-size:.88em;color:#444}.links{font-size:.85em}code{background:#f6f6f6;
padding:0 .2em}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.8em}.error{color:#a00}
nav ul{columns:2}
"""


# ---------------------------------------------------------------------------------------- the outcome


@dataclass
class PlotOutcome:
    """What :func:`nmfexp.figures.plot_all` made: files per artifact (and per other sweep), and errors."""

    written: dict
    errors: dict
    df: pd.DataFrame
    hist: pd.DataFrame
    records: list


# ---------------------------------------------------------------------------------------- deviations


def deviations_markdown() -> str:
    """Where this reproduction deviates from the paper, and why (Markdown, from the package data
    ``nmfexp/figures/deviations.md``; docs/reproduction.md's section of that name says the same)."""
    return resources.files(__package__).joinpath("deviations.md").read_text(encoding="utf-8").strip()


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", text)

    def link(m):
        label, url = m.group(1), m.group(2)
        if re.match(r"https?://", url):
            return f'<a href="{html.escape(url)}">{label}</a>'
        return f"{label} (<code>{html.escape(url)}</code>)"  # a path of the repository: not next to the report

    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", link, text)


def markdown_to_html(md: str) -> str:
    """The Markdown of documentation sections (paragraphs, ``-`` lists, inline code, bold,
    emphasis, links) as HTML."""
    out, para, items = [], [], []

    def flush_para():
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    def flush_items():
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(' '.join(i))}</li>" for i in items) + "</ul>")
            items.clear()

    for line in md.splitlines():
        stripped = line.strip()
        if not stripped:
            flush_para()
            continue
        if re.match(r"^[-*]\s+", stripped) and not line.startswith("  "):
            flush_para()
            items.append([re.sub(r"^[-*]\s+", "", stripped)])
        elif items and line.startswith(" "):
            items[-1].append(stripped)
        else:
            flush_items()
            para.append(stripped)
    flush_para()
    flush_items()
    return "\n".join(out)


# ---------------------------------------------------------------------------------------- pieces


def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _table_html(path_csv: Path) -> str:
    try:
        table = pd.read_csv(path_csv)
    except (OSError, pd.errors.EmptyDataError):
        return "<p class='note'>(empty table)</p>"
    head = "".join(f"<th class='{'text' if table[c].dtype == object else ''}'>{_esc(c)}</th>" for c in table.columns)
    rows = []
    for _, row in table.iterrows():
        cells = []
        for c in table.columns:
            v = row[c]
            if isinstance(v, float):
                text = "" if pd.isna(v) else f"{v:.4g}"
                cells.append(f"<td>{text}</td>")
            else:
                cells.append(f"<td class='text'>{_esc('' if pd.isna(v) else v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    if len(table) > _ROWS_SHOWN:
        body = f"<details><summary>{len(table)} rows (click to show)</summary>{body}</details>"
    return body


def _table_note(path_md: Path) -> str:
    if not path_md.is_file():
        return ""
    parts = path_md.read_text(encoding="utf-8").strip().split("\n\n")
    return parts[-1].strip() if len(parts) > 1 else ""


def _links(plots_dir: Path, stem: str, exts) -> str:
    have = [e for e in exts if (plots_dir / f"{stem}.{e}").is_file()]
    return " · ".join(f"<a href='{_esc(stem)}.{e}'>{e.upper()}</a>" for e in have)


def _files_section(plots_dir: Path, paths: list[Path], captions: dict) -> str:
    stems = []
    for p in paths:
        if p.stem not in stems and p.suffix.lstrip(".") in (*FIGURE_FORMATS, *TABLE_FORMATS):
            stems.append(p.stem)
    parts = []
    for stem in stems:
        if (plots_dir / f"{stem}.png").is_file():
            parts.append(f"<figure id='{_esc(stem)}'><img src='{_esc(stem)}.png' alt='{_esc(stem)}'>"
                         f"<figcaption><strong>{_esc(stem)}</strong>. {_esc(captions.get(stem, ''))} "
                         f"<span class='links'>[{_links(plots_dir, stem, FIGURE_FORMATS)}]</span></figcaption>"
                         "</figure>")
        elif (plots_dir / f"{stem}.csv").is_file():
            note = _table_note(plots_dir / f"{stem}.md")
            parts.append(f"<h3 id='{_esc(stem)}'>{_esc(stem)}</h3>"
                         f"<p class='note'>{_esc(captions.get(stem, ''))} "
                         f"<span class='links'>[{_links(plots_dir, stem, TABLE_FORMATS)}]</span></p>"
                         + _table_html(plots_dir / f"{stem}.csv")
                         + (f"<p class='note'>{_esc(note)}</p>" if note else ""))
    return "\n".join(parts)


def _counts(values) -> str:
    c = Counter("(unknown)" if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA else str(v)
                for v in values)
    return "; ".join(f"{v} ({n})" if len(c) > 1 else v for v, n in c.most_common())


def _libraries(value):
    """A BLAS entry (``"openblas 0.3.21; mkl 2023.1"``, libraries in the order threadpoolctl met them)
    as each library once, sorted: the same libraries loaded in another order are the same environment."""
    if not isinstance(value, str):
        return value
    return ", ".join(sorted({part.strip() for part in value.split(";") if part.strip()}))


def _environment(df: pd.DataFrame) -> str:
    rows = []
    labels = {"env.nmfexp": "nmfexp", "env.git_commit": "git commit", "env.git_dirty": "uncommitted changes",
              "env.python": "Python", "env.numpy": "NumPy", "env.scipy": "SciPy", "env.pandas": "pandas",
              "env.h5py": "h5py", "env.numba": "numba", "env.hydra_core": "hydra-core", "env.blas": "BLAS",
              "env.blas_threads": "BLAS threads while timed", "env.cpu": "CPU", "env.machine": "machine",
              "env.cpu_count": "CPUs", "env.cpu_affinity": "CPUs usable", "env.memory_bytes": "memory (bytes)",
              "env.hostname": "host", "env.platform": "platform"}
    for col, label in labels.items():
        if col in df and df[col].notna().any():
            values = df[col].map(_libraries) if col == "env.blas" else df[col]
            rows.append((label, _counts(values)))
    for col in sorted(c for c in df.columns if c.startswith("env.") and c not in labels):
        if df[col].notna().any():
            rows.append((col[4:], _counts(df[col])))
    for key, label in (("launcher", "launcher"), ("parallelism", "jobs configured to run at once"),
                       ("concurrent_jobs", "nmfexp jobs timed at once on the host"),
                       ("slurm_job_id", "Slurm job")):
        col = schema.field_of(f"execution/{key}").column
        vals = [v for v in df[col].dropna() if v != ""] if col in df else []
        if vals:
            rows.append((label, _counts(vals)))
    for col in sorted(c for c in df.columns if c.startswith("timing.")):
        if df[col].notna().any():
            rows.append((f"timing: {col[7:]}", _counts(df[col])))
    body = "".join(f"<tr><th class='text'>{_esc(k)}</th><td class='text'>{_esc(v)}</td></tr>" for k, v in rows)
    return (f"<p class='note'>From the records ({len(df)}): value (number of records) when they differ.</p>"
            f"<div class='scroll'><table>{body}</table></div>")


def _provenance(df: pd.DataFrame, results) -> str:
    """The records' commit(s), DIRTY when any was made with uncommitted changes, a BLAS mix flagged,
    and, for records read from an archive (``nmfexp-plot --from-archive``), what its manifest says."""
    from ..experiment.provenance import provenance_note, provenance_of

    parts = []
    manifest = Path(results) / "MANIFEST.json" if results is not None else None
    if manifest is not None and manifest.is_file():  # written by extract_archive after every checksum matched
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            m = {}
        if isinstance(m, dict):
            parts.append(f"<p>Archive: the records come from an archive made {_esc(m.get('created', '?'))} by nmfexp "
                         f"{_esc(m.get('nmfexp_version', '?'))}; its {len(m.get('members') or [])} files match "
                         "MANIFEST.json (SHA-256).</p>")
    if len(df):
        p = provenance_of(df)
        note = provenance_note(df)
        bad = p["dirty"] or len(p["commits"]) > 1 or len(p["blas"]) > 1 or not p["commits"]
        cls = " class='error'" if bad else ""
        parts.append(f"<p{cls}>Provenance: records from "
                     f"{_esc(note)}." + (" A record marked DIRTY was made from a working tree with changes no "
                                         "commit holds: its numbers cannot be traced to a commit." if p["dirty"]
                                         else "")
                     + (" The runtimes come from different BLAS builds and are not comparable across them."
                        if len(p["blas"]) > 1 else "") + "</p>")
    return "\n".join(parts)


def _references(df: pd.DataFrame, plots_dir: Path) -> str:
    from ..citation import citation_keys, cite, entries

    solvers = sorted(set(df["solver"].dropna().astype(str))) if "solver" in df else []
    datasets = sorted(set(df["dataset"].dropna().astype(str))) if "dataset" in df else []
    inits = sorted(set(df["solver.params.init"].dropna().astype(str))) if "solver.params.init" in df else []
    keys = citation_keys(solvers, datasets, inits=inits, strict=False)
    bib = cite(solvers, datasets, inits=inits, strict=False)
    if any(d for d in datasets if "/" in d):  # the corpus figures use performance profiles
        bib += "\n" + entries()["dolan2002benchmarking"] + "\n"
        keys.append("dolan2002benchmarking")
    (plots_dir / "references.bib").write_text(bib, encoding="utf-8")
    parsed = parse_bibtex(bib)  # every entry written, the generated ones (R packages, data sets) too
    items = "".join(f"<li><code>{_esc(k)}</code>: {format_reference(parsed[k]) if k in parsed else _esc(k)}</li>"
                    for k in keys)
    return (f"<p>Solvers used: {_esc(', '.join(solvers) or 'none')}. Data sets: {len(datasets)}. "
            "The BibTeX of everything below: <a href='references.bib'>references.bib</a> "
            "(<code>nmfexp.cite(solvers=..., datasets=...)</code> gives the same).</p>"
            f"<ol>{items}</ol><details><summary>BibTeX</summary><pre>{_esc(bib)}</pre></details>")


# ---------------------------------------------------------------------------------------- the page


def write_report(outcome: PlotOutcome, plots_dir, *, results=None, statistic: str = "median",
                 title: str = "nmfexp results") -> Path:
    """Write ``<plots_dir>/index.html`` (and ``references.bib``) for the files of ``outcome``.

    Parameters
    ----------
    outcome : PlotOutcome
        What :func:`nmfexp.figures.plot_all` made (``plot_all(...).outcome``).
    plots_dir : path-like
        The folder of the figures; the page links them by relative path.
    results : path-like, optional
        Where the records were read from (shown on the page).
    statistic : str
        The runtime statistic the figures use (shown on the page).

    Returns
    -------
    Path
        The page.
    """
    from .. import __version__

    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    df = outcome.df
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    status = df["status"].value_counts().to_dict() if "status" in df and len(df) else {}
    sections, toc = [], []
    for name, paths in outcome.written.items():
        if name == "report" or not paths and name not in outcome.errors:
            continue
        art = ARTIFACTS.get(name)
        heading = art.title if art else f"Sweep {name.split(':', 1)[1]}"
        toc.append(f"<li><a href='#{_esc(name)}'>{_esc(heading)}</a></li>")
        text = art.description if art else "Generic figures for records that no preset claims (nmfexp.figures.sweep)."
        tags = sorted(set(df.loc[df["tag"].isin([name, f"{name}_quick"]), "tag"])) if art and len(df) else []
        err = (f"<p class='error'>This artifact could not be made:</p><pre>{_esc(outcome.errors[name])}</pre>"
               if name in outcome.errors else "")
        captions = CAPTIONS
        budget = budget_of(df[df["tag"].isin(tags)]) if tags else "not recorded"
        if budget != "not recorded":  # every caption says the budget its records were run under
            captions = {stem: f"{c} Budget of these records: {budget}." for stem, c in CAPTIONS.items()}
            text = f"{text} Budget of these records: {budget}."
        sections.append(f"<section id='{_esc(name)}'><h2>{_esc(heading)}</h2><p>{_esc(text)}"
                        + (f" Records: preset {_esc(', '.join(tags))}." if tags else "") + "</p>"
                        + err + _files_section(plots_dir, paths, captions) + "</section>")
    # A report of one's own sweep says nothing about the paper (no deviations, no missing presets).
    paper = any(outcome.written.get(n) or n in outcome.errors for n in ARTIFACTS)
    missing = [a for n, a in ARTIFACTS.items() if not outcome.written.get(n) and n not in outcome.errors]
    if missing and paper:
        sections.append("<section id='not-run'><h2>Artifacts without records here</h2><ul>" + "".join(
            f"<li><code>{_esc(a.name)}</code>: {_esc(a.title)} (<code>nmfexp-run -m +experiment={_esc(a.name)}</code>"
            + (f"; needs {_esc(a.needs)}" if a.needs else "") + ")</li>" for a in missing) + "</ul></section>")
    toc.append("<li><a href='#environment'>Environment</a></li>")
    deviations = ""
    if paper:
        toc.append("<li><a href='#deviations'>Deviations from the paper</a></li>")
        deviations = (f"<section id=\"deviations\"><h2>Deviations from the paper</h2>\n<p class=\"note\">As in "
                      f"docs/reproduction.md, section \"{_esc(DEVIATIONS_HEADING)}\".</p>"
                      f"{markdown_to_html(deviations_markdown())}</section>")
    toc.append("<li><a href='#references'>References</a></li>")
    notes = STATISTIC_NOTES if paper else GENERIC_STATISTIC_NOTES
    shared = concurrent_note(df) if len(df) else ""
    shared = f" Of these jobs, {shared}." if shared else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>{_esc(title)}</h1>
<p>Records: <code>{_esc(results if results is not None else "")}</code>, {len(df)} jobs
({_esc(", ".join(f"{n} {s}" for s, n in status.items()) or "none")}). Generated {now} by nmfexp {_esc(__version__)}
from the records alone (no solver was run). Runtime statistic: {_esc(notes[statistic])}.{_esc(shared)}</p>
{_provenance(df, results)}
{"<p class='error'>Figures that failed: " + _esc(", ".join(outcome.errors)) + "</p>" if outcome.errors else ""}
<nav><ul>{"".join(toc)}</ul></nav>
{"".join(sections)}
<section id="environment"><h2>Environment</h2>{_environment(df)}</section>
{deviations}
<section id="references"><h2>References</h2>{_references(df, plots_dir)}</section>
<script>
// marks each image loaded or broken (data-state), for a quick check in a browser or a headless test
document.querySelectorAll("img").forEach(function (img) {{
  function mark() {{ img.setAttribute("data-state", img.naturalWidth > 0 ? "loaded" : "broken"); }}
  if (img.complete) {{ mark(); }} else {{ img.addEventListener("load", mark); img.addEventListener("error", mark); }}
}});
</script>
</body></html>
"""
    out = plots_dir / "index.html"
    out.write_text(page, encoding="utf-8")
    return out
