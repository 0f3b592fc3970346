#!/usr/bin/env python3
"""mobility in one process against mobility on a Ballista cluster of this machine (one
`mobility scheduler` and two `mobility executor`s on free loopback ports, each executor running
--tasks-per-executor tasks at once), in one run, interleaved:

1. zone join: points per municipality of 5,000,000 random points in south-east Norway against
   the 357 municipalities of ../shared/data/real/kommuner-2024-s.geojson (the points and the
   zones as benches/zone_assignment.py makes them), by
   `mobility sql -c "SELECT z.zone_id, count(*) ... JOIN zones z ON ST_Contains(...) GROUP BY 1"`
   with and without --cluster;
2. survey run: `mobility run` on a synthetic survey (`mobility synth`, default 1,000,000
   persons), with and without --cluster, the two output folders compared cell by cell by
   benches/compare_outputs.py.

Each part starts its own cluster on its data directory (the scheduler and the executors need
the client's --data for the zones of the look-up functions) and stops it at its end. A time is
the wall time of the whole client process (start, planning, the queries, writing); the cluster
is started before and is not counted.

    pip install pyarrow numpy
    cargo build --release
    python3 benches/cluster.py [--points 5000000] [--persons 1000000] [--runs 3]
                               [--tasks-per-executor 1] [--mobility PATH] [--keep]

Prints one JSON line per part and engine (median seconds, every run, ratio = engine / local,
the client process's peak RSS over the runs) and one per part with the scheduler's and the
executors' peak RSS (VmHWM) before they are stopped and what their logs say of the jobs (jobs,
queued-to-finished seconds, stages, tasks, task seconds, ERROR/WARN lines). Exits with status 1,
saying why, when the two engines' counts per municipality differ (tolerance 0), when
compare_outputs.py finds the two runs' outputs different, or when a command or a cluster
process fails (printing the tail of its stderr and of the cluster's logs); a part that fails
does not stop the other, and the reasons are printed at the end. The client's peak RSS is
/usr/bin/time's %M (without it, the largest VmHWM seen polling /proc: a lower bound). Without
../shared/data the zone join prints SKIP and the survey run still runs, or the script fails
under CI=true. The temporary folder (data, outputs, logs) is removed at the end unless --keep
or something failed.
"""
import argparse, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KOMMUNER = os.path.join(ROOT, "..", "shared", "data", "real", "kommuner-2024-s.geojson")


class Failed(Exception):
    """A failure whose message is printed as the script's exit message."""


def free_ports(n):
    """`n` distinct free loopback ports: all held at once while they are picked (one released
    before the next is picked can come back: the executor's own pick of a free gRPC port once
    got its Flight port, and it stopped with AddrInUse)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return f"({path} unreadable)"
    return "\n".join(lines[-n:])


def vmhwm_mb(pid):
    """The peak resident set (VmHWM) of a running process, in MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for l in f:
                if l.startswith("VmHWM:"):
                    return round(int(l.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class Cluster:
    """A scheduler and two executors on `data`, their stderr in `dir`/*.log."""

    def __init__(self, mobility, data, dir, tasks, executors=2):
        self.dir, self.procs = dir, []
        os.makedirs(dir, exist_ok=True)
        try:
            self._start(mobility, data, tasks, executors)
        except BaseException:
            # A process that did start is stopped: nothing is left running.
            self.stop()
            raise

    def _start(self, mobility, data, tasks, executors):
        port, *ports = free_ports(1 + 2 * executors)
        self.url = f"df://127.0.0.1:{port}"
        self._spawn("scheduler", [mobility, "scheduler", "--bind", f"127.0.0.1:{port}", "--data", data])
        self._wait(port, "scheduler")
        flights = []
        for i in range(executors):
            flight, grpc = ports[2 * i], ports[2 * i + 1]
            self._spawn(f"executor{i}", [mobility, "executor", "--scheduler", f"127.0.0.1:{port}", "--bind", f"127.0.0.1:{flight}", "--grpc-port", str(grpc),
                                         "--data", data, "--concurrent-tasks", str(tasks), "--work-dir", os.path.join(self.dir, f"work{i}")])
            flights.append((f"executor{i}", flight))
        for name, flight in flights:
            self._wait(flight, name)
        # Registered with the scheduler (at the executor's start, before its first heartbeat).
        time.sleep(2)
        self._alive()

    def _spawn(self, name, cmd):
        log = open(os.path.join(self.dir, f"{name}.log"), "w")
        self.procs.append((name, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)))
        log.close()

    def _alive(self):
        for name, p in self.procs:
            if p.poll() is not None:
                raise Failed(f"the {name} exited with status {p.returncode}\n{self.logs()}")

    def _wait(self, port, name):
        t0 = time.monotonic()
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                self._alive()
                if time.monotonic() - t0 > 60:
                    raise Failed(f"the {name} did not listen on {port} within 60 s\n{self.logs()}")
                time.sleep(0.1)

    def logs(self, n=40):
        return "\n".join(f"== {os.path.join(self.dir, name)}.log (last {n} lines)\n{tail(os.path.join(self.dir, name + '.log'), n)}" for name, _ in self.procs)

    def peak_rss(self):
        return {name: vmhwm_mb(p.pid) for name, p in self.procs}

    def stop(self):
        """SIGTERM to the executors (they tell the scheduler they stop), then to the scheduler;
        SIGKILL to what is left 10 s after its SIGTERM."""
        for group in (self.procs[1:], self.procs[:1]):
            for _, p in group:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for _, p in group:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def log_time(line):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line)
    return datetime.fromisoformat(m.group(1)) if m else None


def duration_s(text):
    """A Rust Duration's Debug form (1.5s, 12.3ms, 45µs, 7ns) in seconds."""
    m = re.fullmatch(r"([\d.]+)(s|ms|µs|us|ns)", text)
    return float(m.group(1)) * {"s": 1, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}[m.group(2)] if m else 0.0


def log_summary(cluster):
    """What the scheduler's and executors' logs say of the jobs: per job, queued -> finished
    (scheduler), stages and tasks with their summed run time (executors); lines at ERROR/WARN."""
    queued, finished, failed, problems = {}, {}, 0, {}
    stages, tasks, task_s = {}, {}, {}
    for name, _ in cluster.procs:
        with open(os.path.join(cluster.dir, name + ".log"), errors="replace") as f:
            lines = f.read().splitlines()
        problems[name] = {"ERROR": 0, "WARN": 0}
        for l in lines:
            parts = l.split(None, 2)
            if len(parts) >= 2 and parts[1] in problems[name]:
                problems[name][parts[1]] += 1
            if m := re.search(r"Job queued: \[(\w+)\]", l):
                queued[m.group(1)] = log_time(l)
            elif m := re.search(r"Job finished successfully: \[(\w+)\]", l):
                finished[m.group(1)] = log_time(l)
            elif re.search(r"Job \w+ failed", l):
                failed += 1
            elif m := re.search(r"Finished task : \[TID (\w+)/(\d+)\.\d+/\d+\.\d+\] in (\S+)", l):
                job = m.group(1)
                stages.setdefault(job, set()).add(m.group(2))
                tasks[job] = tasks.get(job, 0) + 1
                task_s[job] = task_s.get(job, 0.0) + duration_s(m.group(3))
    durations = [(finished[j] - queued[j]).total_seconds() for j in finished if j in queued and queued[j] and finished[j]]
    return {
        "jobs": len(queued), "jobs_finished": len(finished), "jobs_failed": failed,
        "job_queued_to_finished_s": {"sum": round(sum(durations), 2), "median": round(statistics.median(durations), 3) if durations else None,
                                     "max": round(max(durations), 2) if durations else None},
        "stages": sum(len(s) for s in stages.values()), "tasks": sum(tasks.values()),
        "task_s_sum": round(sum(task_s.values()), 2),
        "log_errors_warnings": problems,
    }


TIME = shutil.which("time", path="/usr/bin:/bin")


def timed(cmd, tmp, label, cluster=None):
    """Runs `cmd`; returns (wall seconds, the process's peak RSS in MB, its stdout). The wall
    time is that of the whole process; the peak RSS is /usr/bin/time's %M (a child's ru_maxrss
    as Python's wait4 sees it starts from this Python's own RSS, which exec keeps). Without
    /usr/bin/time it is the largest VmHWM seen polling /proc every 20 ms (a lower bound)."""
    out_path, err_path = os.path.join(tmp, f"{label}.stdout"), os.path.join(tmp, f"{label}.stderr")
    rss_path = os.path.join(tmp, f"{label}.rss")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        if TIME:
            p = subprocess.Popen([TIME, "-f", "%M", "-o", rss_path] + cmd, stdout=out, stderr=err)
            p.wait()
        else:
            p, peak = subprocess.Popen(cmd, stdout=out, stderr=err), 0.0
            while p.poll() is None:
                peak = max(peak, vmhwm_mb(p.pid) or 0.0)
                time.sleep(0.02)
        wall = time.perf_counter() - t0
    if p.returncode != 0:
        msg = f"{' '.join(cmd)}\nexited with status {p.returncode}; its stderr:\n{tail(err_path)}"
        if cluster:
            msg += "\n" + cluster.logs()
        raise Failed(msg)
    if TIME:
        with open(rss_path) as f:
            peak = int(f.read().split()[-1]) / 1024
    with open(out_path) as f:
        return wall, round(peak, 1), f.read()


def interleaved(runs, engines):
    """Runs every engine once per round; returns {engine: ([seconds], [peak MB], last stdout)}."""
    res = {name: ([], [], None) for name in engines}
    for r in range(runs):
        for name, f in engines.items():
            wall, rss, out = f(r)
            res[name][0].append(wall)
            res[name][1].append(rss)
            res[name] = (res[name][0], res[name][1], out)
            print(f"  {name} run {r + 1}: {wall:.2f} s, {rss} MB", file=sys.stderr)
    return res


def report(part, res, extra):
    """One line per engine; `extra` gives the fields of each engine's line before the times."""
    base = statistics.median(res["local"][0])
    for name, (times, rss, _) in res.items():
        med = statistics.median(times)
        print(json.dumps({"part": part, "engine": name, **extra(name), "median_s": round(med, 3), "runs": [round(t, 3) for t in times],
                          "ratio_to_local": round(med / base, 2), "peak_rss_mb": max(rss)}), flush=True)


def with_cluster(a, data, dir, body):
    """Starts a cluster on `data`, runs body(cluster) and stops the cluster; returns its
    processes' peak RSS and what their logs say, both read just before they are stopped, and
    body's result."""
    cluster = Cluster(a.mobility, data, dir, a.tasks_per_executor)
    try:
        result = body(cluster)
        cluster._alive()
        # Before the stop, whose own messages (an executor's goodbye) are no part of the runs.
        return cluster.peak_rss(), log_summary(cluster), result
    finally:
        cluster.stop()


def zone_join(a, tmp):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    t0 = time.perf_counter()
    rng = np.random.default_rng(42)
    points = os.path.join(tmp, "points.parquet")
    pq.write_table(pa.table({"id": np.arange(a.points), "lon": rng.uniform(9.5, 11.8, a.points), "lat": rng.uniform(59.4, 60.4, a.points)}), points)
    data = os.path.join(tmp, "zones-data")
    subprocess.run([a.mobility, "ingest", "zones", KOMMUNER, "--id-field", "kommunenummer", "--name-field", "kommunenavn", "--kind", "kommune", "--repair", "--out", data, "-q"], check=True)
    prepare = time.perf_counter() - t0
    sql = f"SELECT z.zone_id, count(*) AS n FROM '{points}' p JOIN zones z ON ST_Contains(z.geometry, ST_Point(p.lon, p.lat)) GROUP BY 1"

    def counts(out):
        return {l.split(",")[0]: int(l.split(",")[1]) for l in out.splitlines()[1:] if l.split(",")[0]}

    def body(cluster):
        def engine(extra):
            return lambda r: timed([a.mobility, "sql", "--data", data, "--format", "csv", "-c", sql] + extra, tmp, f"zone-join-{'cluster' if extra else 'local'}-{r}", cluster)
        return interleaved(a.runs, {"local": engine([]), "cluster": engine(["--cluster", cluster.url])})

    peaks, logs, res = with_cluster(a, data, os.path.join(tmp, "cluster-zone-join"), body)
    ref, other = counts(res["local"][2]), counts(res["cluster"][2])
    got = {"local": ref, "cluster": other}
    report("zone join", res, lambda name: {"points": a.points, "points_in_zones": sum(got[name].values())})
    print(json.dumps({"part": "zone join", "cluster": f"1 scheduler + 2 executors x {a.tasks_per_executor} task(s)", "prepare_s": round(prepare, 2),
                      "vmhwm_mb": peaks, **logs}), flush=True)
    if not ref:
        raise Failed("zone join: the local join put no point in any municipality")
    bad = sorted(k for k in set(ref) | set(other) if ref.get(k, 0) != other.get(k, 0))
    if bad:
        raise Failed(f"zone join: the counts per municipality differ (local vs cluster, tolerance 0) in {len(bad)} of {len(set(ref) | set(other))} municipalities "
                     f"(points in a municipality: {sum(ref.values())} locally, {sum(other.values())} on the cluster):\n  "
                     + "\n  ".join(f"{k}: {ref.get(k, 0)} vs {other.get(k, 0)}" for k in bad[:20]))


def survey_run(a, tmp):
    data = os.path.join(tmp, "survey-data")
    t0 = time.perf_counter()
    subprocess.run([a.mobility, "synth", "--persons", str(a.persons), "--out", data, "-q"], check=True)
    prepare = time.perf_counter() - t0
    outs = {"local": os.path.join(tmp, "out-local"), "cluster": os.path.join(tmp, "out-cluster")}

    def body(cluster):
        def engine(name, extra):
            return lambda r: timed([a.mobility, "run", "-q", "--data", data, "--out", outs[name]] + extra, tmp, f"survey-run-{name}-{r}", cluster)
        return interleaved(a.runs, {"local": engine("local", []), "cluster": engine("cluster", ["--cluster", cluster.url])})

    peaks, logs, res = with_cluster(a, data, os.path.join(tmp, "cluster-survey-run"), body)
    report("survey run", res, lambda name: {"persons": a.persons})
    cmp = subprocess.run([sys.executable, os.path.join(ROOT, "benches", "compare_outputs.py"), outs["local"], outs["cluster"]], capture_output=True, text=True)
    print(json.dumps({"part": "survey run", "cluster": f"1 scheduler + 2 executors x {a.tasks_per_executor} task(s)", "prepare_s": round(prepare, 2),
                      "vmhwm_mb": peaks, **logs, "compare_outputs": cmp.stdout.strip()}), flush=True)
    if cmp.returncode != 0:
        raise Failed(f"survey run: compare_outputs.py says the local and the cluster outputs differ (status {cmp.returncode}):\n{cmp.stdout}{cmp.stderr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=5_000_000)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tasks-per-executor", type=int, default=1)
    ap.add_argument("--mobility", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "mobility"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (data, outputs, logs)")
    a = ap.parse_args()
    a.mobility = os.path.abspath(a.mobility)
    tmp = tempfile.mkdtemp(prefix="mobility-cluster-bench-")
    print(f"temporary folder: {tmp}", file=sys.stderr)
    failures = []
    for part, run in (("zone join", zone_join), ("survey run", survey_run)):
        if part == "zone join" and not os.path.exists(KOMMUNER):
            if os.environ.get("CI") == "true":
                failures.append(f"{KOMMUNER} is absent, and CI must have ../shared/data")
            else:
                print(f"SKIP zone join: {KOMMUNER} is absent")
            continue
        try:
            run(a, tmp)
        except (Failed, subprocess.CalledProcessError) as e:
            # The other part still runs: its figures are worth having.
            failures.append(str(e))
            print(f"cluster.py: {part} failed (see the end)", file=sys.stderr)
    if failures:
        sys.exit("cluster.py: " + "\n\ncluster.py: ".join(failures) + f"\n(the data, outputs and logs are in {tmp})")
    if a.keep:
        print(f"kept {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
