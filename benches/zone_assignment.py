#!/usr/bin/env python3
"""Zone assignment of random points in south-east Norway (lon 9.5-11.8, lat 59.4-60.4) against
the 357 municipalities of ../shared/data/real/kommuner-2024-s.geojson: points per municipality
by `JOIN zones z ON ST_Contains(z.geometry, ST_Point(lon, lat))` in mobility (its indexed
spatial join), DuckDB (spatial extension) and SedonaDB, and by mobility's zone_of, on the same
Parquet files, interleaved, in one run.

    pip install "duckdb==1.5.5" duckdb-extension-spatial sedonadb pyarrow numpy
    cargo build --release
    python3 benches/zone_assignment.py [--points 5000000] [--runs 3]

Prints one JSON line per engine (median seconds, ratio = engine / mobility join) and checks that
every engine gives the same count per municipality (tolerance 0): where one does not, it says
which and exits with status 1. The time of mobility includes starting the process, loading the
zones and building the index. Without ../shared/data it prints SKIP and exits 0, or fails
under CI=true.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KOMMUNER = os.path.join(ROOT, "..", "shared", "data", "real", "kommuner-2024-s.geojson")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=5_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mobility", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "mobility"))
    a = ap.parse_args()
    if not os.path.exists(KOMMUNER):
        if os.environ.get("CI") == "true":
            sys.exit(f"zone_assignment.py: {KOMMUNER} is absent, and CI must have ../shared/data")
        print(f"SKIP: {KOMMUNER} is absent")
        return
    tmp = tempfile.mkdtemp()
    rng = np.random.default_rng(42)
    points = os.path.join(tmp, "points.parquet")
    pq.write_table(pa.table({"id": np.arange(a.points), "lon": rng.uniform(9.5, 11.8, a.points), "lat": rng.uniform(59.4, 60.4, a.points)}), points)
    data = os.path.join(tmp, "data")
    subprocess.run([a.mobility, "ingest", "zones", KOMMUNER, "--id-field", "kommunenummer", "--name-field", "kommunenavn", "--kind", "kommune", "--repair", "--out", data, "-q"], check=True)
    # The committed generation of the zones table, as the data directory's pointer names it.
    with open(os.path.join(data, "_current")) as f:
        zdir = dict(l.split() for l in f.read().splitlines()[2:] if l.strip())["zones"]
    zones = os.path.join(data, zdir, "data.parquet")

    def run_mobility(sql):
        out = subprocess.run([a.mobility, "sql", "--data", data, "--format", "csv", "-c", sql], check=True, capture_output=True, text=True).stdout
        return {l.split(",")[0]: int(l.split(",")[1]) for l in out.splitlines()[1:] if l.split(",")[0]}

    def mobility_join():
        # The same join as the other engines; the planner makes it an indexed spatial join.
        return run_mobility(f"SELECT z.zone_id, count(*) AS n FROM '{points}' p JOIN zones z ON ST_Contains(z.geometry, ST_Point(p.lon, p.lat)) GROUP BY 1")

    def mobility():
        return run_mobility(f"SELECT zone_of(lon, lat, 'kommune') AS zone_id, count(*) AS n FROM '{points}' GROUP BY 1")

    def mobility_filtered():
        # The form a planner writes: the look-up in WHERE and in SELECT (evaluated once per
        # point by the lookup_once rule; twice as DataFusion plans it).
        return run_mobility(f"SELECT zone_of(lon, lat, 'kommune') AS zone_id, count(*) AS n FROM '{points}' WHERE zone_of(lon, lat, 'kommune') IS NOT NULL GROUP BY 1")

    # DuckDB with spatial also reads the GeoParquet geometry column as GEOMETRY.
    import duckdb, duckdb_extension_spatial
    ext = os.path.join(os.path.dirname(duckdb_extension_spatial.__file__), "extensions", f"v{duckdb.__version__}", "spatial.duckdb_extension")
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{ext}'")

    def duck():
        rows = con.execute(f"SELECT z.zone_id, count(*) FROM read_parquet('{points}') p JOIN (SELECT zone_id, geometry AS g FROM read_parquet('{zones}')) z ON ST_Contains(z.g, ST_Point(p.lon, p.lat)) GROUP BY 1").fetchall()
        return {str(k): int(v) for k, v in rows}

    import sedonadb
    sd = sedonadb.connect()
    sd.read_parquet(points).to_view("points", overwrite=True)
    # SedonaDB reads the GeoParquet metadata, so the column is a geometry already.
    sd.read_parquet(zones).to_view("zones_raw", overwrite=True)
    # Its ST_Point has no CRS and the GeoParquet column is OGC:CRS84; both are set to 4326.
    sd.sql("SELECT zone_id, ST_SetSRID(geometry, 4326) AS g FROM zones_raw").to_view("zones", overwrite=True)

    def sedona():
        t = sd.sql("SELECT z.zone_id, count(*) AS n FROM points p JOIN zones z ON ST_Contains(z.g, ST_SetSRID(ST_Point(p.lon, p.lat), 4326)) GROUP BY 1").to_arrow_table()
        return {str(k): int(v) for k, v in zip(t.column(0).to_pylist(), t.column(1).to_pylist())}

    engines = {"mobility join": mobility_join, "mobility zone_of": mobility, "mobility zone_of filtered": mobility_filtered, "duckdb spatial": duck, "sedonadb": sedona}
    times = {k: [] for k in engines}
    results = {}
    for _ in range(a.runs):
        for name, f in engines.items():
            t0 = time.perf_counter()
            results[name] = f()
            times[name].append(time.perf_counter() - t0)
    ref = results["mobility join"]
    base = statistics.median(times["mobility join"])
    disagree = []
    for name in engines:
        diff = sum(abs(results[name].get(k, 0) - ref.get(k, 0)) for k in set(ref) | set(results[name]))
        med = statistics.median(times[name])
        print(json.dumps({"engine": name, "points": a.points, "zones": 357, "median_s": round(med, 3), "runs": [round(t, 3) for t in times[name]], "ratio_to_mobility": round(med / base, 2), "ratio_to_sedonadb": round(med / statistics.median(times["sedonadb"]), 2), "points_in_zones": sum(results[name].values()), "count_differences": diff}))
        if diff != 0:
            disagree.append(f"{name}: Σ over municipalities of |its count − the mobility join's| = {diff}")
    if not ref:
        disagree.append("the mobility join put no point in any municipality")
    if disagree:
        sys.exit("zone_assignment.py: the engines disagree (tolerance 0):\n  " + "\n  ".join(disagree))


if __name__ == "__main__":
    main()
