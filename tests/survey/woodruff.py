#!/usr/bin/env python3
"""Woodruff's confidence interval of a weighted median, written independently of mobility.

    python woodruff.py persons.csv trips.csv out.csv

persons.csv: person_id, weight, stratum; trips.csv: person_id, mode, distance_km (one row per
trip). For each mode: the median of trip lengths, each trip weighted by its person's weight
(the smallest length whose cumulative weight reaches half the total); the distribution
function F(t) = sum_i w_i c_i(t) / sum_i w_i n_i as a ratio over persons (c_i: the person's
trips of the mode no longer than t, n_i: all of them), its linearised variance with persons
as PSUs drawn with replacement within strata (every person of the survey counts in its
stratum's n_h, with zero where it has no trip of the mode); the interval
[F^-1(0.5 - t s), F^-1(0.5 + t s)] with t of Student at persons - strata degrees of freedom,
and SE = (upper - lower) / (2 t) (Woodruff 1971; R survey::svyquantile).
"""
import csv
import sys
from collections import defaultdict

import numpy as np
from scipy import stats


def quantile(values, weights, p):
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values)[order], np.asarray(weights)[order]
    cum = np.cumsum(w)
    if p <= 0:
        return float(v[0])
    hit = np.nonzero(cum >= p * cum[-1])[0]
    return float(v[hit[0]]) if len(hit) else float(v[-1])


def main(persons_csv, trips_csv, out_csv):
    persons = {}
    for r in csv.DictReader(open(persons_csv, encoding="utf-8")):
        persons[r["person_id"]] = (float(r["weight"]), r["stratum"] or "")
    strata = sorted({s for _, s in persons.values()})
    n_h = {h: sum(1 for _, s in persons.values() if s == h) for h in strata}
    df = len(persons) - len(strata)
    t = stats.t.ppf(0.975, df)
    trips = defaultdict(list)
    for r in csv.DictReader(open(trips_csv, encoding="utf-8")):
        trips[r["mode"]].append((float(r["distance_km"]), r["person_id"]))
    rows = []
    for mode in sorted(trips):
        obs = trips[mode]
        values = [v for v, _ in obs]
        weights = [persons[p][0] for _, p in obs]
        q = quantile(values, weights, 0.5)
        c, n = defaultdict(float), defaultdict(float)
        for v, p in obs:
            n[p] += 1
            c[p] += v <= q
        X = sum(persons[p][0] * n[p] for p in n)
        F = sum(persons[p][0] * c[p] for p in n) / X
        var = 0.0
        for h in strata:
            wz = [persons[p][0] * (c[p] - F * n[p]) / X for p in n if persons[p][1] == h]
            wz += [0.0] * (n_h[h] - len(wz))
            if n_h[h] > 1:
                wz = np.array(wz)
                var += n_h[h] / (n_h[h] - 1) * np.sum((wz - wz.mean()) ** 2)
        s = var ** 0.5
        lo, hi = quantile(values, weights, 0.5 - t * s), quantile(values, weights, 0.5 + t * s)
        rows.append({"mode": mode, "estimate": q, "se": (hi - lo) / (2 * t), "ci_lower": lo, "ci_upper": hi})
    with open(out_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["mode", "estimate", "se", "ci_lower", "ci_upper"])
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main(*sys.argv[1:4])
