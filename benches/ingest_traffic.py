#!/usr/bin/env python3
"""Ingest of synthetic trafikkdata.no exports (default 300 counting points × 2 years, `.csv.gz`,
ISO-8859-1) by `mobility ingest traffic --memory-limit 2GiB` beside DuckDB reading the same
files into Parquet, interleaved, in one run; then mobility's traffic index over the ingested
data under the same memory limit. The goal: mobility no slower than DuckDB, aiming for half
its time.

    pip install "duckdb==1.5.5"
    cargo build --release
    python3 benches/ingest_traffic.py [--points 300] [--years 2023-2024] [--runs 3]

The exports are made once by `mobility synth --raw-only` (its time is printed, not compared);
`--raw DIR` benchmarks the `trafikkdata*.csv.gz` files of DIR instead. Both engines run as
processes under /usr/bin/time -v, each run into a fresh output location: wall seconds include
starting the process (DuckDB's: Python and `import duckdb`); peak RSS is the process's. DuckDB
runs with its defaults (threads, memory limit). Prints one JSON line per engine (median
seconds and peak RSS, ratio = engine / DuckDB), then a verdict. Exits with status 1, saying
why, when the engines disagree on the number of rows or on the sum of `Trafikkmengde` per
point over the rows with `Felt` = 'Totalt' (mobility's scope 'total'). Without GNU time at
/usr/bin/time it prints SKIP and exits 0, or fails under CI=true.

DuckDB 1.5.5 quirk: with `encoding='latin-1'` on a gzip file its sniffer's buffer is not
continued correctly (past the first buffer a row runs into the file's header again, "CSV Error
on Line: …", or the sniffer gives up), so DuckDB sniffs the first file on its own (DESCRIBE)
and reads all of them with `auto_detect=false` and the sniffed `columns` (the same names and
types; `Fra` and `Til`, with offsets and no seconds, stay VARCHAR). Both steps are timed.
"""
import argparse, glob, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIME = "/usr/bin/time"
MEMORY_LIMIT = "2GiB"
CSV = "delim=';', decimal_separator=',', nullstr='-', encoding='latin-1', header=true"

# Run as `python3 -c DUCK OUT FILE...`: sniff the first file, then read every file into OUT.
DUCK = f"""
import sys, duckdb
out, files = sys.argv[1], sys.argv[2:]
con = duckdb.connect()
cols = con.execute(f"DESCRIBE SELECT * FROM read_csv('{{files[0]}}', {CSV})").fetchall()
columns = "{{" + ", ".join(f"'{{c[0]}}': '{{c[1]}}'" for c in cols) + "}}"
con.execute(f"COPY (SELECT * FROM read_csv({{files!r}}, {CSV}, auto_detect=false, columns={{columns}})) TO '{{out}}' (FORMAT parquet)")
"""


def timed(cmd):
    """Run cmd under GNU time: (wall seconds, peak RSS in MB, stdout); exit if it fails."""
    t0 = time.perf_counter()
    p = subprocess.run([TIME, "-v", *cmd], capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"ingest_traffic.py: {os.path.basename(cmd[0])} {cmd[1]} failed:\n{p.stderr.split(chr(9) + 'Command being timed')[0][-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return secs, rss / 1024, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=300)
    ap.add_argument("--years", default="2023-2024")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mobility", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "mobility"))
    ap.add_argument("--raw", help=argparse.SUPPRESS)  # a folder of exports instead of synth's
    a = ap.parse_args()
    if not os.path.exists(TIME):
        if os.environ.get("CI") == "true":
            sys.exit(f"ingest_traffic.py: {TIME} (GNU time) is absent, and CI must have it")
        print(f"SKIP: {TIME} (GNU time) is absent")
        return
    tmp = tempfile.mkdtemp(prefix="ingest_traffic-")
    raw = a.raw
    if raw is None:
        gen = os.path.join(tmp, "gen")
        secs, rss, _ = timed([a.mobility, "synth", "--out", gen, "--persons", "200", "--traffic-points", str(a.points),
                              "--traffic-years", a.years, "--raw-only", "-q"])
        print(json.dumps({"synth_seconds": round(secs, 2), "synth_peak_rss_mb": round(rss), "points": a.points, "years": a.years}))
        raw = os.path.join(gen, "raw", "traffic")
    files = sorted(glob.glob(os.path.join(raw, "trafikkdata*.csv.gz")))
    if not files:
        sys.exit(f"ingest_traffic.py: no trafikkdata*.csv.gz in {raw}")
    nbytes = sum(os.path.getsize(f) for f in files)

    # --memory-limit only where this binary's ingest has it (older builds do not).
    help_text = subprocess.run([a.mobility, "ingest", "traffic", "--help"], capture_output=True, text=True).stdout
    limit = ["--memory-limit", MEMORY_LIMIT] if "--memory-limit" in help_text else []
    data, parquet = os.path.join(tmp, "data"), os.path.join(tmp, "duck", "x.parquet")

    def mobility():
        shutil.rmtree(data, ignore_errors=True)
        return timed([a.mobility, "ingest", "traffic", "--out", data, "-q", *limit, *files])

    def duck():
        shutil.rmtree(os.path.dirname(parquet), ignore_errors=True)
        os.makedirs(os.path.dirname(parquet))
        return timed([sys.executable, "-c", DUCK, parquet, *files])

    names = {"mobility ingest traffic" + (f" --memory-limit {MEMORY_LIMIT}" if limit else ""): mobility,
             "duckdb read_csv to parquet": duck}
    times, rss = {k: [] for k in names}, {k: [] for k in names}
    for _ in range(a.runs):
        for name, f in names.items():
            s, m, _ = f()
            times[name].append(s)
            rss[name].append(m)

    # Agreement, on the last run of each.
    def msql(q):
        out = subprocess.run([a.mobility, "sql", "--data", data, "--format", "csv", "-c", q], check=True, capture_output=True, text=True).stdout
        return [l.split(",") for l in out.splitlines()[1:] if l]

    m_rows = int(msql("SELECT count(*) FROM traffic_hourly")[0][0])
    m_sums = {k: int(v) if v else None for k, v in msql("SELECT trp_id, sum(volume) FROM traffic_hourly WHERE scope = 'total' GROUP BY 1")}
    import duckdb
    con = duckdb.connect()
    d_rows, points, first, last = con.execute(f"SELECT count(*), count(DISTINCT Trafikkregistreringspunkt), min(Dato), max(Dato) FROM '{parquet}'").fetchone()
    d_sums = dict(con.execute(f"SELECT Trafikkregistreringspunkt, sum(Trafikkmengde) FROM '{parquet}' WHERE Felt = 'Totalt' GROUP BY 1").fetchall())

    # The traffic index over mobility's data, under the memory limit: `mobility run` computes
    # traffic_index_yearly, traffic_index_rolling, nullvekst (the survey indicators are skipped,
    # the data directory has no survey).
    out = os.path.join(tmp, "out")
    idx = []
    for _ in range(a.runs):
        shutil.rmtree(out, ignore_errors=True)
        idx.append(timed([a.mobility, "run", "--data", data, "--out", out, "--memory-limit", MEMORY_LIMIT, "-q"])[:2])
    with open(os.path.join(out, "manifest.json")) as f:
        rolling_rows = next(i["rows"] for i in json.load(f)["indicators"] if i["id"] == "traffic_index_rolling")

    base = statistics.median(times["duckdb read_csv to parquet"])
    common = {"points": points, "years": f"{str(first)[:4]}-{str(last)[:4]}", "files": len(files), "bytes": nbytes}
    for name, rows in zip(names, (m_rows, d_rows)):
        med = statistics.median(times[name])
        print(json.dumps({"engine": name, **common, "rows": rows, "median_s": round(med, 3), "runs": [round(t, 3) for t in times[name]],
                          "peak_rss_mb": round(statistics.median(rss[name])), "ratio_to_duckdb": round(med / base, 2)}))
    print(json.dumps({"engine": f"mobility run (traffic_index_rolling) --memory-limit {MEMORY_LIMIT}", **common, "rows": rolling_rows,
                      "median_s": round(statistics.median(s for s, _ in idx), 3), "runs": [round(s, 3) for s, _ in idx],
                      "peak_rss_mb": round(statistics.median(m for _, m in idx)), "ratio_to_duckdb": None}))

    ratio = statistics.median(times[next(iter(names))]) / base
    verdict = "meets the aim (≤ 0.5)" if ratio <= 0.5 else "meets the goal (≤ 1), not the aim (≤ 0.5)" if ratio <= 1 else "slower than DuckDB (goal ≤ 1)"
    print(f"verdict: mobility ingest takes {ratio:.2f} × DuckDB's time: {verdict}")

    problems = []
    if m_rows != d_rows:
        problems.append(f"rows: mobility's traffic_hourly has {m_rows}, DuckDB read {d_rows}")
    if not d_sums:
        problems.append("DuckDB found no point with Felt = 'Totalt'")
    bad = sorted(k for k in set(m_sums) | set(d_sums) if m_sums.get(k, "absent") != d_sums.get(k, "absent"))
    if bad:
        problems.append(f"Σ volume of the 'Totalt' rows differs for {len(bad)} points, e.g. "
                        + ", ".join(f"{k}: mobility {m_sums.get(k, 'absent')}, DuckDB {d_sums.get(k, 'absent')}" for k in bad[:5]))
    if problems:
        sys.exit(f"ingest_traffic.py: the engines disagree (outputs kept in {tmp}):\n  " + "\n  ".join(problems))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
