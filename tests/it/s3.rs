//! A data directory on S3-compatible object storage (`s3://bucket/prefix`): ingest into it, run
//! and query from it, locally and on a cluster, against a local S3 server (moto's server mode,
//! which `.ci/run` installs), with the same outputs as a local data directory (issue 14).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::{Cluster, free_port, same_outputs};
use crate::{ok, python_with};

/// moto's S3 server on a free loopback port, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl S3Server {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "moto's server did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The `AWS_*` variables that point object_store and boto3 at this server.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `mobility` with `envs`, insisting on success; returns stdout.
fn ok_env(args: &[&str], envs: &[(&str, String)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mobility"))
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("mobility runs");
    assert!(
        out.status.success(),
        "mobility {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The ingest commands of a synthetic survey's raw files into `out` (a folder or a bucket).
fn ingest_all(raw: &Path, out: &str, envs: &[(&str, String)]) {
    let r = |p: &str| raw.join(p).display().to_string();
    for kind in ["kommune", "grunnkrets"] {
        let file = r(&format!("zones/{kind}.geojson"));
        ok_env(
            &[
                "ingest",
                "zones",
                &file,
                "--id-field",
                "zone_id",
                "--name-field",
                "name",
                "--kind",
                kind,
                "--out",
                out,
                "-q",
            ],
            envs,
        );
    }
    ok_env(
        &[
            "ingest",
            "survey",
            "--mapping",
            "canonical",
            &r("survey"),
            "--out",
            out,
            "-q",
        ],
        envs,
    );
    let mut traffic: Vec<String> = std::fs::read_dir(raw.join("traffic"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    traffic.sort();
    let mut args = vec!["ingest", "traffic"];
    args.extend(traffic.iter().map(String::as_str));
    args.extend(["--out", out, "-q"]);
    ok_env(&args, envs);
    ok_env(
        &["ingest", "factors", &r("factors"), "--out", out, "-q"],
        envs,
    );
}

#[test]
fn a_data_directory_in_a_bucket_is_ingested_run_and_queried_as_a_local_one() {
    if !python_with("moto.server, boto3, flask") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let s3 = S3Server::start();
    let env = s3.env();
    let script = format!(
        "import boto3; boto3.client('s3', endpoint_url='{}', region_name='us-east-1', \
         aws_access_key_id='test', aws_secret_access_key='test').create_bucket(Bucket='mobility')",
        s3.endpoint
    );
    crate::python(&["-c", &script]);

    let synth = tmp.path().join("synth");
    ok(&[
        "synth",
        "-q",
        "--persons",
        "1500",
        "--traffic-points",
        "2",
        "--traffic-years",
        "2023-2024",
        "--raw-only",
        "--out",
        synth.to_str().unwrap(),
    ]);
    let raw = synth.join("raw");
    let local = tmp.path().join("data");
    let bucket = "s3://mobility/baerum";
    ingest_all(&raw, local.to_str().unwrap(), &[]);
    ingest_all(&raw, bucket, &env);

    // The same indicators from the bucket as from the folder.
    let (out_local, out_s3) = (tmp.path().join("out-local"), tmp.path().join("out-s3"));
    ok(&[
        "run",
        "-q",
        "--data",
        local.to_str().unwrap(),
        "--out",
        out_local.to_str().unwrap(),
    ]);
    ok_env(
        &[
            "run",
            "-q",
            "--data",
            bucket,
            "--out",
            out_s3.to_str().unwrap(),
        ],
        &env,
    );
    let n = same_outputs(&out_local, &out_s3, 1e-9);
    assert!(n > 1000, "only {n} cells compared");
    let manifest = std::fs::read_to_string(out_s3.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("trips/g") && manifest.contains("sha256"),
        "the manifest lists no input of the bucket:\n{manifest}"
    );

    // SQL, with a look-up that needs the zones.
    let q = "SELECT zone_of(origin_lon, origin_lat, 'kommune') AS z, count(*) AS n \
             FROM trips GROUP BY 1 ORDER BY 1";
    let here = ok(&[
        "sql",
        "--data",
        local.to_str().unwrap(),
        "--format",
        "csv",
        "-c",
        q,
    ]);
    let there = ok_env(&["sql", "--data", bucket, "--format", "csv", "-c", q], &env);
    assert_eq!(here, there);

    // A cluster whose scheduler and executors read the bucket.
    let cluster = Cluster::start_with(Path::new(bucket), 2, 180, &env);
    let out_cluster = tmp.path().join("out-cluster");
    ok_env(
        &[
            "run",
            "-q",
            "--data",
            bucket,
            "--out",
            out_cluster.to_str().unwrap(),
            "--cluster",
            &cluster.url,
        ],
        &env,
    );
    let n = same_outputs(&out_local, &out_cluster, 1e-9);
    assert!(n > 1000, "only {n} cells compared");
}
