#!/usr/bin/env python3
"""The survey indicators on a synthetic survey (default 1,000,000 persons) beside DuckDB
computing the same point estimates (weighted sums per group) from the same Parquet files, in
one run, interleaved. mobility also computes the standard errors, CIs, n, n_eff and writes
Parquet and CSV; DuckDB only the estimates.

    pip install "duckdb==1.5.5" pyarrow holidays
    cargo build --release
    python3 benches/survey_indicators.py [--persons 1000000] [--runs 3]

With --full-run (the default) the same loop also times `mobility run` with every indicator
and its SE, on synth's default data (the same survey, with 8 counting points: the survey's
indicators, the traffic index and the report's tables), to put the whole run beside DuckDB's
six in one window; its six tables are compared with DuckDB too. `--no-full-run` leaves it out.

Prints one JSON line per engine (median seconds, ratio = engine / mobility's six, and the
ratio to DuckDB) and the largest difference between mobility's and DuckDB's estimates over
every cell DuckDB returns. Exits with status 1, saying why, when that difference is above
TOLERANCE, when a cell of DuckDB's is missing in mobility's output, or when no cell was
compared.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The largest absolute difference allowed between the two engines' estimates (both are sums
# of the same doubles in another order; they agree to about 1e-10).
TOLERANCE = 1e-9
IDS = ["trips_per_person_day", "km_per_person_day", "mode_share_trips", "mode_share_km",
       "car_vkm_per_person_day", "sustainable_share"]

# (id, estimator, y per trip, trip filter, key column or None)
SPEC = [
    ("trips_per_person_day", "mean", "1", "TRUE", None),
    ("km_per_person_day", "mean", "distance_km", "TRUE", None),
    ("mode_share_trips", "share", "1", "mode IS NOT NULL", "mode"),
    ("mode_share_km", "share", "distance_km", "mode IS NOT NULL AND distance_km IS NOT NULL", "mode"),
    ("car_vkm_per_person_day", "mean", "distance_km", "mode = 'car_driver'", None),
    ("sustainable_share", "share", "1", "mode IS NOT NULL", "sust"),
]
PERSON = ["home_zone", "age_band", "gender", "employment", "day_type"]
TRIP = ["purpose", "distance_band"]


def table_path(data, table):
    """The committed generation of a table, as the data directory's pointer `_current` names it."""
    with open(os.path.join(data, "_current")) as f:
        dirs = dict(l.split() for l in f.read().splitlines()[2:] if l.strip())
    return os.path.join(data, dirs[table], "*.parquet")


def holiday_list(years):
    """Norway's public holidays of `years` as a SQL list (the `holidays` package, not mobility)."""
    import holidays
    return ", ".join(f"DATE '{d}'" for d in sorted(holidays.Norway(years=years)))


def duck_sql(data):
    persons, households, trips = (table_path(data, t) for t in ("persons", "households", "trips"))
    hol = holiday_list(range(2015, 2031))
    frame = f"""
    CREATE OR REPLACE TEMP TABLE f AS
    SELECT p.person_id, p.weight AS w, h.home_zone_id AS home_zone,
      CASE WHEN p.age IS NULL THEN NULL WHEN p.age < 18 THEN '13-17' WHEN p.age < 30 THEN '18-29'
           WHEN p.age < 45 THEN '30-44' WHEN p.age < 67 THEN '45-66' ELSE '67+' END AS age_band,
      p.gender, p.employment,
      CASE WHEN p.travel_date IS NULL THEN NULL WHEN p.travel_date IN ({hol}) THEN 'holiday'
           WHEN dayofweek(p.travel_date) IN (0, 6) THEN 'weekend' ELSE 'weekday' END AS day_type
    FROM read_parquet('{persons}') p
    LEFT JOIN read_parquet('{households}') h USING (household_id);
    CREATE OR REPLACE TEMP TABLE t AS
    SELECT person_id, mode, purpose, distance_km,
      CASE WHEN mode IN ('walk','bike','bus','tram','metro','rail','ferry') THEN 'sustainable' ELSE 'other' END AS sust,
      CASE WHEN distance_km IS NULL THEN NULL WHEN distance_km < 1 THEN '0-1 km' WHEN distance_km < 2.5 THEN '1-2.5 km'
           WHEN distance_km < 5 THEN '2.5-5 km' WHEN distance_km < 10 THEN '5-10 km' WHEN distance_km < 25 THEN '10-25 km'
           WHEN distance_km < 50 THEN '25-50 km' ELSE '50+ km' END AS distance_band
    FROM read_parquet('{trips}');
    CREATE OR REPLACE TEMP TABLE tf AS SELECT * FROM t JOIN f USING (person_id);
    """
    queries = []
    for ind, est, y, where, key in SPEC:
        for b in ["all"] + PERSON + TRIP:
            if est == "mean":
                # A trip-level domain (or all) holds every person: Σw over the whole sample.
                denom = "(SELECT sum(w) FROM f)"
                if b in PERSON:
                    # Domain totals per value of the breakdown.
                    q = f"""SELECT '{ind}' AS id, '{b}' AS breakdown, CAST(d.v AS VARCHAR) AS value, NULL AS key, coalesce(n.s, 0) / d.sw AS estimate
                    FROM (SELECT {b} AS v, sum(w) AS sw FROM f WHERE {b} IS NOT NULL GROUP BY 1) d
                    LEFT JOIN (SELECT f.{b} AS v, sum(f.w * {y}) AS s FROM tf f WHERE {where} GROUP BY 1) n ON n.v = d.v"""
                else:
                    xcol = "NULL" if b == "all" else f"x.{b}"
                    q = f"""SELECT '{ind}', '{b}', CAST({xcol} AS VARCHAR), NULL, sum(x.w * {y}) / {denom}
                    FROM tf x WHERE {where} {'AND ' + xcol + ' IS NOT NULL' if b != 'all' else ''} GROUP BY {xcol}"""
            else:
                xcol = "NULL" if b == "all" else f"x.{b}"
                xkey = f"x.{key}"
                q = f"""SELECT '{ind}', '{b}', CAST(v AS VARCHAR), CAST(k AS VARCHAR), s / sum(s) OVER (PARTITION BY v) FROM (
                    SELECT {xcol} AS v, {xkey} AS k, sum(x.w * {y}) AS s FROM tf x
                    WHERE {where} {'AND ' + xcol + ' IS NOT NULL' if b != 'all' else ''} GROUP BY 1, 2)"""
            queries.append(q)
    return frame, " UNION ALL ".join(queries)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--full-run", action=argparse.BooleanOptionalAction, default=True,
                    help="also time the whole run (every indicator with its SE)")
    ap.add_argument("--mobility", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "mobility"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    data = os.path.join(tmp, "data")
    t0 = time.perf_counter()
    subprocess.run([a.mobility, "synth", "--persons", str(a.persons), "--seed", "1", "--traffic-points", "0", "--out", data, "-q"], check=True)
    # The whole run on synth's default data: the same survey (synth draws it apart from the
    # counting points) with its 8 counting points, so the traffic tables are in it too.
    data_full = os.path.join(tmp, "data-full")
    if a.full_run:
        subprocess.run([a.mobility, "synth", "--persons", str(a.persons), "--seed", "1", "--out", data_full, "-q"], check=True)
    print(json.dumps({"synth_seconds": round(time.perf_counter() - t0, 2), "persons": a.persons}))
    out = os.path.join(tmp, "out")

    def six(out):
        res = {}
        for ind, _, _, _, key in SPEC:
            t = pq.read_table(os.path.join(out, "indicators", f"{ind}.parquet")).to_pydict()
            keys = t[key] if key and key != "sust" else [None] * len(t["estimate"])
            for i in range(len(t["estimate"])):
                k = keys[i]
                if key == "sust":
                    k = "sustainable"
                res[(ind, t["breakdown"][i], t["breakdown_value"][i], k)] = t["estimate"][i]
        return res

    def mobility():
        subprocess.run([a.mobility, "run", "--data", data, "--out", out, "--only", ",".join(IDS), "-q"], check=True)
        return six(out)

    out_full = os.path.join(tmp, "out-full")

    def mobility_full():
        subprocess.run([a.mobility, "run", "--data", data_full, "--out", out_full, "-q"], check=True)
        return six(out_full)

    import duckdb
    frame, query = duck_sql(data)

    def duck():
        con = duckdb.connect()
        con.execute(frame)
        rows = con.execute(query).fetchall()
        con.close()
        return {(r[0], r[1], r[2], r[3]): r[4] for r in rows}

    engines = {"mobility (estimates + SE, CI, n, n_eff; Parquet + CSV)": mobility, "duckdb (point estimates)": duck}
    if a.full_run:
        engines["mobility run: every indicator with its SE (whole run)"] = mobility_full
    times = {k: [] for k in engines}
    results = {}
    for _ in range(a.runs):
        for name, f in engines.items():
            t = time.perf_counter()
            results[name] = f()
            times[name].append(time.perf_counter() - t)
    names = list(engines)
    theirs = results[names[1]]
    base = statistics.median(times[names[0]])
    duck_med = statistics.median(times[names[1]])
    for name in names:
        med = statistics.median(times[name])
        print(json.dumps({"engine": name, "persons": a.persons, "indicators": len(IDS) if name != names[-1] or not a.full_run else "all",
                          "median_s": round(med, 3), "runs": [round(t, 3) for t in times[name]],
                          "ratio_to_mobility": round(med / base, 2), "ratio_to_duckdb": round(med / duck_med, 2)}))
    problems = []
    for name in [n for n in names if n != names[1]]:
        ours = results[name]
        diffs = [abs(ours[k] - v) for k, v in theirs.items() if k in ours and v is not None]
        missing = [k for k in theirs if k not in ours and k[3] != "other"]
        worst = max(diffs) if diffs else None
        print(json.dumps({"engine": name, "cells_compared": len(diffs), "max_abs_difference": worst, "tolerance": TOLERANCE,
                          "duckdb_cells_missing_in_mobility": len(missing)}))
        if not diffs:
            problems.append(f"{name}: no cell compared")
        elif not worst <= TOLERANCE:
            bad = sorted(((abs(ours[k] - v), k) for k, v in theirs.items() if k in ours and v is not None), reverse=True)[:5]
            problems.append(f"{name}: max abs difference {worst} > {TOLERANCE}; the largest: {bad}")
        if missing:
            problems.append(f"{name}: {len(missing)} DuckDB cells missing in mobility, e.g. {missing[:5]}")
    if problems:
        sys.exit("survey_indicators.py: the engines disagree:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
