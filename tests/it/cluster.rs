//! `mobility scheduler` and two `mobility executor`s on free loopback ports: the same SQL and
//! the same indicators as in one process (issue 14, docs/cluster.md).

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};

use crate::{ok, root};

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until something listens on `port`, or fails naming `what` and its log.
fn wait_listening(port: u16, what: &str, log: &Path) {
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{what} did not listen on {port} within 60 s; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and executors started by the project's binary, killed when dropped.
pub struct Cluster {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub executors: Vec<(Child, u16)>,
    scheduler: Child,
}

impl Cluster {
    /// One scheduler (an executor is lost after `timeout` seconds without a heartbeat) and
    /// `executors` executors of one task each, heartbeat every second, on `data`.
    pub fn start(data: &Path, executors: usize, timeout: u64) -> Self {
        Self::start_with(data, executors, timeout, &[])
    }

    /// [`Cluster::start`] with environment variables for every process (e.g. `AWS_*`).
    pub fn start_with(
        data: &Path,
        executors: usize,
        timeout: u64,
        envs: &[(&str, String)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let spawn = |args: Vec<String>, log: &str| -> Child {
            let log = std::fs::File::create(dir.path().join(log)).unwrap();
            Command::new(env!("CARGO_BIN_EXE_mobility"))
                .args(&args)
                .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("mobility starts")
        };
        let data = data.display().to_string();
        let scheduler = spawn(
            vec![
                "scheduler".into(),
                "--bind".into(),
                format!("127.0.0.1:{port}"),
                "--data".into(),
                data.clone(),
                "--executor-timeout".into(),
                timeout.to_string(),
                "--expire-interval".into(),
                "1".into(),
            ],
            "scheduler.log",
        );
        wait_listening(port, "the scheduler", &dir.path().join("scheduler.log"));
        // Every executor's two ports at once, held until all are chosen: none coincide.
        let held: Vec<std::net::TcpListener> = (0..2 * executors)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
            .collect();
        let ports: Vec<u16> = held
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        drop(held);
        let mut started = Vec::new();
        for i in 0..executors {
            let (flight, grpc) = (ports[2 * i], ports[2 * i + 1]);
            let child = spawn(
                vec![
                    "executor".into(),
                    "--scheduler".into(),
                    format!("127.0.0.1:{port}"),
                    "--bind".into(),
                    format!("127.0.0.1:{flight}"),
                    "--grpc-port".into(),
                    grpc.to_string(),
                    "--data".into(),
                    data.clone(),
                    "--concurrent-tasks".into(),
                    "1".into(),
                    "--heartbeat".into(),
                    "1".into(),
                    "--work-dir".into(),
                    dir.path().join(format!("work{i}")).display().to_string(),
                ],
                &format!("executor{i}.log"),
            );
            started.push((child, flight));
        }
        for (i, (_, flight)) in started.iter().enumerate() {
            wait_listening(
                *flight,
                &format!("executor {i}"),
                &dir.path().join(format!("executor{i}.log")),
            );
        }
        // Registered with the scheduler: a heartbeat after the Flight service is up.
        std::thread::sleep(Duration::from_secs(2));
        Self {
            url: format!("df://127.0.0.1:{port}"),
            dir,
            executors: started,
            scheduler,
        }
    }

    /// The logs of every process, for a failure's message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "log") {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                out.push_str(&format!("== {}\n", e.path().display()));
                for l in tail.into_iter().rev() {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (c, _) in &mut self.executors {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.scheduler.kill();
        let _ = self.scheduler.wait();
    }
}

/// Runs `mobility` with `args`; on failure panics with its stderr and the cluster's logs.
fn ok_on(cluster: &Cluster, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mobility"))
        .args(args)
        .output()
        .expect("mobility runs");
    assert!(
        out.status.success(),
        "mobility {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An indicator table as row key (its text columns and integers) → its floating-point cells.
fn cells(path: &Path) -> BTreeMap<String, Vec<Option<f64>>> {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let mut out = BTreeMap::new();
    for b in &batches {
        let fmt = arrow::util::display::FormatOptions::default().with_null("∅");
        let keys: Vec<_> = b
            .columns()
            .iter()
            .filter(|c| !c.data_type().is_floating())
            .map(|c| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &fmt).unwrap())
            .collect();
        let floats: Vec<_> = b
            .columns()
            .iter()
            .filter(|c| c.data_type().is_floating())
            .map(|c| arrow::compute::cast(c, &DataType::Float64).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            let key: Vec<String> = keys.iter().map(|k| k.value(i).to_string()).collect();
            let vals = floats
                .iter()
                .map(|c| {
                    let c = c.as_primitive::<Float64Type>();
                    c.is_valid(i).then(|| c.value(i))
                })
                .collect();
            let previous = out.insert(key.join(" | "), vals);
            assert!(previous.is_none(), "{}: a row key twice", path.display());
        }
    }
    out
}

/// Every indicator table of two runs, cell by cell: the same rows, the same counts and text,
/// and every number within `rel` of the other (relative to the larger magnitude, or
/// absolutely below 1). Returns how many cells were compared.
pub fn same_outputs(a: &Path, b: &Path, rel: f64) -> usize {
    let mut compared = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(a.join("indicators"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    assert!(files.len() > 10, "only {} indicator tables", files.len());
    for f in files {
        let other = b.join("indicators").join(f.file_name().unwrap());
        let (x, y) = (cells(&f), cells(&other));
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(
            x.keys().collect::<Vec<_>>(),
            y.keys().collect::<Vec<_>>(),
            "{name}: the rows differ"
        );
        for (k, xs) in &x {
            for (u, v) in xs.iter().zip(&y[k]) {
                match (u, v) {
                    (Some(u), Some(v)) if u.is_nan() && v.is_nan() => {}
                    (Some(u), Some(v)) => assert!(
                        (u - v).abs() <= rel * u.abs().max(v.abs()).max(1.0),
                        "{name}, row {k}: {u} against {v}"
                    ),
                    (None, None) => {}
                    _ => panic!("{name}, row {k}: {u:?} against {v:?}"),
                }
                compared += 1;
            }
        }
    }
    compared
}

#[test]
fn a_run_on_a_cluster_equals_the_local_run_and_joins_by_index() {
    let data = root().join("data/sample");
    let cluster = Cluster::start(&data, 2, 180);
    let out = cluster.dir.path();
    let (local, remote) = (out.join("local"), out.join("cluster"));
    let d = data.display().to_string();
    ok(&["run", "-q", "--data", &d, "--out", local.to_str().unwrap()]);
    ok_on(
        &cluster,
        &[
            "run",
            "-q",
            "--data",
            &d,
            "--out",
            remote.to_str().unwrap(),
            "--cluster",
            &cluster.url,
        ],
    );
    let n = same_outputs(&local, &remote, 1e-9);
    assert!(n > 1000, "only {n} cells compared");
    // The local run held the trips in memory; the cluster's executors read them from Parquet:
    // the same outputs both ways.
    let held = |dir: &Path| crate::manifest(dir)["parameters"]["trips_in_memory_bytes"].as_u64();
    assert!(
        held(&local).is_some_and(|b| b > 100_000),
        "{:?}",
        held(&local)
    );
    assert_eq!(held(&remote), None);

    // Points in three files, so that the probe side has several partitions and tasks (one
    // file read whole by one task hid a build side cut into slices).
    let pts = out.join("pts");
    std::fs::create_dir_all(&pts).unwrap();
    for f in ["a", "b", "c"] {
        let copy = format!(
            "COPY (SELECT origin_lon AS lon, origin_lat AS lat FROM trips) TO '{}/{f}.parquet'",
            pts.display()
        );
        ok(&["sql", "-q", "--data", &d, "-c", &copy]);
    }
    let join = format!(
        "SELECT z.zone_id, count(*) AS n FROM '{}/' p \
         JOIN zones z ON ST_Contains(z.geometry, ST_Point(p.lon, p.lat)) GROUP BY z.zone_id",
        pts.display()
    );
    // The spatial join ran on the executors as the indexed join: the distributed EXPLAIN
    // ANALYZE shows its node with the rows it produced.
    let plan = ok_on(
        &cluster,
        &[
            "sql",
            "--data",
            &d,
            "--cluster",
            &cluster.url,
            "-c",
            &format!("EXPLAIN ANALYZE {join}"),
        ],
    );
    assert!(
        plan.contains("SpatialJoinExec") && plan.contains("output_rows"),
        "no SpatialJoinExec with metrics in the cluster's plan:\n{plan}"
    );
    assert!(
        !plan.contains("NestedLoopJoinExec"),
        "a nested loop in the cluster's plan:\n{plan}"
    );
    // And the same counts as in one process.
    let count = format!("{join} ORDER BY z.zone_id");
    let there = ok_on(
        &cluster,
        &[
            "sql",
            "--data",
            &d,
            "--cluster",
            &cluster.url,
            "--format",
            "csv",
            "-c",
            &count,
        ],
    );
    let here = ok(&["sql", "--data", &d, "--format", "csv", "-c", &count]);
    assert_eq!(there, here);
    assert!(here.lines().count() > 5, "too few zones:\n{here}");
}

/// The files of a run's output folder with their bytes, to see that a failed run left it
/// as it was.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn a_run_survives_an_executor_killed_in_its_middle_or_fails_leaving_out_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // A survey large enough that the run on the cluster takes several seconds.
    ok(&[
        "synth",
        "-q",
        "--persons",
        "60000",
        "--traffic-points",
        "8",
        "--traffic-years",
        "2023-2024",
        "--out",
        data.to_str().unwrap(),
    ]);
    let d = data.display().to_string();
    let local = tmp.path().join("local");
    let t_local = Instant::now();
    ok(&["run", "-q", "--data", &d, "--out", local.to_str().unwrap()]);
    // The kill comes at 40 % of the local run's time (the cluster's run takes longer): in its
    // middle whether the binary is a debug or a release build.
    let kill_after = t_local.elapsed().mul_f64(0.4).max(Duration::from_secs(1));

    // An executor is lost after 3 s without a heartbeat (one a second).
    let mut cluster = Cluster::start(&data, 2, 3);
    let out = tmp.path().join("cluster");
    // A previous run's outputs, which a failed run must leave as they are.
    ok(&[
        "run",
        "-q",
        "--data",
        &d,
        "--out",
        out.to_str().unwrap(),
        "--only",
        "population",
    ]);
    let before = snapshot(&out);
    let t0 = Instant::now();
    let mut run = Command::new(env!("CARGO_BIN_EXE_mobility"))
        .args([
            "run",
            "-q",
            "--data",
            &d,
            "--out",
            out.to_str().unwrap(),
            "--cluster",
            &cluster.url,
            // Ballista 55 can stall a job whose stages it rolled back after the loss: the
            // run then fails after this long without a result (docs/cluster.md).
            "--query-timeout",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(kill_after);
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run ended within {kill_after:?}, before an executor could be killed in its middle"
    );
    let (victim, _) = &mut cluster.executors[0];
    // SIGKILL: no goodbye to the scheduler.
    victim.kill().unwrap();
    victim.wait().unwrap();
    let killed_at = t0.elapsed();
    let result = run.wait_with_output().unwrap();
    let took = t0.elapsed();
    // The scheduler notices the lost executor: a task it cannot launch there, or a heartbeat
    // missing for its timeout (3 s).
    let noticed = (0..100).any(|_| {
        let log = std::fs::read_to_string(cluster.dir.path().join("scheduler.log")).unwrap();
        log.contains("heartbeat timed out") || log.contains("Removing executor") || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    });
    assert!(
        noticed,
        "the scheduler never noticed the lost executor:\n{}",
        cluster.logs()
    );
    eprintln!(
        "run: {:?}; stderr: {}",
        result.status,
        String::from_utf8_lossy(&result.stderr)
    );
    if result.status.success() {
        eprintln!(
            "executor killed at {killed_at:?}; the run finished at {took:?} with the lost tasks run again"
        );
        let n = same_outputs(&local, &out, 1e-9);
        assert!(n > 1000, "only {n} cells compared");
    } else {
        let err = String::from_utf8_lossy(&result.stderr);
        eprintln!("executor killed at {killed_at:?}; the run failed at {took:?}: {err}");
        assert!(
            err.contains("cluster") || err.contains("executor") || err.contains("Ballista"),
            "the failure does not say the cluster lost an executor:\n{err}"
        );
        assert_eq!(
            snapshot(&out),
            before,
            "a failed run changed {}",
            out.display()
        );
    }
}
