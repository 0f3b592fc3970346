#!/usr/bin/env python3
"""Compares two `mobility run` output folders indicator by indicator, cell by cell: the same
tables, rows, keys and text, and numbers equal to 1e-9 relative to the row's estimate (an SE
that is zero up to rounding, as a calibrated margin's, differs between summation orders at
1e-11 of the estimate), a CV to 1e-9, NaN equal to NaN. Exits with status 1, naming the first
differences, when they differ.

    python3 benches/compare_outputs.py OUT_A OUT_B [--common]

With --common, the tables both folders have are compared and the others only named (a run of
a newer version that writes more tables against an older one).
"""
import math, os, sys

import pyarrow.parquet as pq


def main():
    a, b = sys.argv[1], sys.argv[2]
    common = "--common" in sys.argv[3:]
    ia, ib = os.path.join(a, "indicators"), os.path.join(b, "indicators")
    names = sorted(f for f in os.listdir(ia) if f.endswith(".parquet"))
    names_b = sorted(f for f in os.listdir(ib) if f.endswith(".parquet"))
    if names != names_b:
        if not common:
            sys.exit(f"different tables: {names} vs {names_b}")
        print(f"only in {a}: {sorted(set(names) - set(names_b))}; only in {b}: {sorted(set(names_b) - set(names))}")
        names = sorted(set(names) & set(names_b))
    problems, cells, worst = [], 0, 0.0
    for n in names:
        ta, tb = pq.read_table(os.path.join(ia, n)), pq.read_table(os.path.join(ib, n))
        if ta.schema.names != tb.schema.names or ta.num_rows != tb.num_rows:
            problems.append(f"{n}: shape {ta.num_rows}x{ta.schema.names} vs {tb.num_rows}x{tb.schema.names}")
            continue
        est = ta.column("estimate").to_pylist() if "estimate" in ta.schema.names else None
        for col in ta.schema.names:
            for i, (x, y) in enumerate(zip(ta.column(col).to_pylist(), tb.column(col).to_pylist())):
                cells += 1
                if isinstance(x, float) and isinstance(y, float):
                    if math.isnan(x) and math.isnan(y):
                        continue
                    e = est[i] if est and isinstance(est[i], float) and col not in ("cv",) and not math.isnan(est[i]) else 0.0
                    scale = 1.0 if col == "cv" else max(abs(x), abs(y), abs(e), 1e-300)
                    d = abs(x - y) / scale
                    worst = max(worst, d)
                    if d > 1e-9:
                        problems.append(f"{n} row {i} {col}: {x!r} vs {y!r}")
                elif x != y:
                    problems.append(f"{n} row {i} {col}: {x!r} vs {y!r}")
    print(f"{len(names)} tables, {cells} cells, largest relative difference {worst:.2e}")
    if problems:
        sys.exit(f"{len(problems)} differences, e.g.:\n  " + "\n  ".join(problems[:10]))


if __name__ == "__main__":
    main()
