//! Files as people send them and writers as people run them: concurrent ingests, ingests killed
//! at random moments, archives from a Mac, zip bombs, invalid zone geometry, `mobility check`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{fails, mobility, ok, strings, table};

/// A trafikkdata.no hourly export of `points` counting points over `days` days from 1 March
/// 2024 (two UTC months, so every point touches the same month files).
fn export(points: &[String], days: u32) -> String {
    let header = mobility_synth::traffic::HEADER;
    let mut s = format!("{header}\n");
    for p in points {
        for d in 0..days {
            // 2024-02-29 23:00Z … spans February and March in UTC.
            let date = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()
                + chrono::Duration::days(d as i64);
            for h in 0..24 {
                let from = date.and_hms_opt(h, 0, 0).unwrap();
                let to = from + chrono::Duration::hours(1);
                s.push_str(&format!(
                    "{p};Punkt {p};FV160 S1D1 m191;{}+01:00;{}+01:00;{};{:02}:00;{:02}:00;Totalt;{};100,0;1;1;0;0;100,00;{};6;1;2;3;0;0;0\n",
                    from.format("%Y-%m-%dT%H:%M"),
                    to.format("%Y-%m-%dT%H:%M"),
                    date,
                    h,
                    (h + 1) % 24,
                    100 + h,
                    94 + h
                ));
            }
        }
    }
    s
}

fn point_ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}V443603")).collect()
}

fn sorted(mut v: Vec<Option<String>>) -> Vec<Option<String>> {
    v.sort();
    v
}

/// Two ingests into one data directory at the same moment, each with half of the points, 20
/// times: every point is kept every time (the second waits for the first's lock).
#[test]
fn concurrent_ingests_keep_every_point() {
    let dir = tempfile::tempdir().unwrap();
    let (a_ids, b_ids) = (point_ids("1", 3), point_ids("2", 3));
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::fs::write(&a, export(&a_ids, 3)).unwrap();
    std::fs::write(&b, export(&b_ids, 3)).unwrap();
    let mut all: Vec<Option<String>> = a_ids.iter().chain(&b_ids).cloned().map(Some).collect();
    all.sort();
    let mut waited = 0;
    for round in 0..20 {
        let data = dir.path().join(format!("d{round}"));
        let spawn = |f: &Path| {
            Command::new(env!("CARGO_BIN_EXE_mobility"))
                .args(["ingest", "traffic"])
                .arg(f)
                .arg("--out")
                .arg(&data)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (ca, cb) = (spawn(&a), spawn(&b));
        for c in [ca, cb] {
            let out = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "round {round}: {err}");
            if err.contains("is being written by") {
                waited += 1;
            }
        }
        let points = table(&data, "traffic_points");
        assert_eq!(sorted(strings(&points, "trp_id")), all, "round {round}");
        assert_eq!(
            table(&data, "traffic_hourly").num_rows(),
            6 * 3 * 24,
            "round {round}"
        );
    }
    eprintln!("20 rounds: every point kept; {waited} ingest(s) waited for the lock");
}

/// With --no-wait the second writer refuses at once, naming the lock and who holds it, and the
/// first writer's points are all there.
#[test]
fn no_wait_refuses_naming_the_lock_holder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let a = dir.path().join("a.csv");
    std::fs::write(&a, export(&point_ids("1", 2), 1)).unwrap();
    ok(&[
        "ingest",
        "traffic",
        a.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    // Hold the lock as another writer would.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(data.join("_lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(
        data.join("_lock"),
        "`mobility ingest traffic x.csv` (pid 4242, since 2026-11-30T10:00:00Z)",
    )
    .unwrap();
    let b = dir.path().join("b.csv");
    std::fs::write(&b, export(&point_ids("2", 2), 1)).unwrap();
    let t0 = Instant::now();
    let err = fails(&[
        "ingest",
        "traffic",
        b.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
        "--no-wait",
    ]);
    assert!(t0.elapsed() < Duration::from_secs(30));
    assert!(
        err.contains(
            "_lock is locked by another writer: `mobility ingest traffic x.csv` (pid 4242"
        ),
        "{err}"
    );
    // Waiting gives up after --wait-timeout, saying so.
    let err = fails(&[
        "ingest",
        "traffic",
        b.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
        "--wait-timeout",
        "1",
    ]);
    assert!(
        err.contains("is being written by `mobility ingest traffic x.csv`"),
        "{err}"
    );
    assert!(
        err.contains("stayed locked by another writer for 1 s"),
        "{err}"
    );
    drop(lock);
    assert_eq!(table(&data, "traffic_points").num_rows(), 2);
    // Released, the same ingest goes through.
    ok(&[
        "ingest",
        "traffic",
        b.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
        "--no-wait",
    ]);
    assert_eq!(table(&data, "traffic_points").num_rows(), 4);
}

/// An ingest killed (SIGKILL) at 20 moments spread over its run leaves the old or the new
/// state whole, never a mix, and the next ingest goes through.
#[test]
fn a_killed_ingest_leaves_the_old_or_the_new_state() {
    let dir = tempfile::tempdir().unwrap();
    let (a_ids, b_ids) = (point_ids("1", 2), point_ids("2", 6));
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::fs::write(&a, export(&a_ids, 2)).unwrap();
    std::fs::write(&b, export(&b_ids, 120)).unwrap();
    let old = (2usize, 2 * 2 * 24usize);
    let new = (8usize, 2 * 2 * 24 + 6 * 120 * 24);
    // How long an uninterrupted ingest of b takes here, to spread the kills over it.
    let probe = dir.path().join("probe");
    ok(&[
        "ingest",
        "traffic",
        a.to_str().unwrap(),
        "--out",
        probe.to_str().unwrap(),
    ]);
    let t0 = Instant::now();
    ok(&[
        "ingest",
        "traffic",
        b.to_str().unwrap(),
        "--out",
        probe.to_str().unwrap(),
    ]);
    let full = t0.elapsed();
    let mut seen = (0, 0);
    // A fixed sequence of moments (no randomness in a test): 0 % … 114 % of a full run.
    for round in 0..20u32 {
        let data = dir.path().join(format!("k{round}"));
        ok(&[
            "ingest",
            "traffic",
            a.to_str().unwrap(),
            "--out",
            data.to_str().unwrap(),
        ]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_mobility"))
            .args(["ingest", "traffic"])
            .arg(&b)
            .arg("--out")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(round as f64 * 0.06));
        let _ = child.kill();
        let _ = child.wait();
        let state = (
            table(&data, "traffic_points").num_rows(),
            table(&data, "traffic_hourly").num_rows(),
        );
        assert!(
            state == old || state == new,
            "round {round}: {state:?} is neither {old:?} nor {new:?}"
        );
        if state == old {
            seen.0 += 1;
        } else {
            seen.1 += 1;
        }
        // SQL reads the same whole state.
        let out = ok(&[
            "sql",
            "--data",
            data.to_str().unwrap(),
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM traffic_hourly",
        ]);
        assert_eq!(
            out.lines().nth(1),
            Some(state.1.to_string().as_str()),
            "round {round}"
        );
        // Debris of the killed run is never read, and the next ingest cleans it up.
        ok(&[
            "ingest",
            "traffic",
            b.to_str().unwrap(),
            "--out",
            data.to_str().unwrap(),
        ]);
        assert_eq!(table(&data, "traffic_hourly").num_rows(), new.1);
        let check = mobility(&["check", "--data", data.to_str().unwrap()]);
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    eprintln!(
        "20 kills over {:.0} ms: {} left the old state, {} the new",
        full.as_secs_f64() * 1e3,
        seen.0,
        seen.1
    );
}

fn zip_of(path: &Path, members: &[(&str, &[u8])]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in members {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
}

/// A trafikkdata export zipped on a Mac (with `__MACOSX/._name.csv`), and one in a folder
/// beside a README: the data is read, and the summary says what was passed over.
#[test]
fn zips_from_a_mac_and_with_folders_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let csv = export(&point_ids("1", 1), 1);
    let mac = dir.path().join("mac.zip");
    zip_of(
        &mac,
        &[
            ("trafikkdata.csv", csv.as_bytes()),
            (
                "__MACOSX/._trafikkdata.csv",
                b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X",
            ),
        ],
    );
    let out = ok(&[
        "ingest",
        "traffic",
        mac.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(out.contains("note: skipped"), "{out}");
    assert!(
        out.contains("mac.zip!__MACOSX/._trafikkdata.csv: macOS metadata, not data"),
        "{out}"
    );
    assert_eq!(table(&data, "traffic_hourly").num_rows(), 24);

    let nested = dir.path().join("nested.zip");
    let csv2 = export(&point_ids("2", 1), 1);
    zip_of(
        &nested,
        &[
            ("eksport/README.txt", b"Trafikkdata for Baerum"),
            ("eksport/timer/punkt2.csv", csv2.as_bytes()),
        ],
    );
    let out = ok(&[
        "ingest",
        "traffic",
        nested.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.contains("nested.zip!eksport/README.txt: not a .csv or .json file"),
        "{out}"
    );
    assert_eq!(table(&data, "traffic_hourly").num_rows(), 48);
}

/// Peak resident memory of a finished child, in MiB (wait4's rusage: this child alone).
#[allow(
    clippy::zombie_processes,
    reason = "the child is waited for by wait4, for its rusage"
)]
fn run_measured(args: &[&str]) -> (bool, String, u64) {
    let child = Command::new(env!("CARGO_BIN_EXE_mobility"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut stderr = child.stderr.unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct that wait4 fills; `pid` is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    let err = reader.join().unwrap();
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        err,
        usage.ru_maxrss as u64 / 1024,
    )
}

/// A gzip stream (and a zip holding one) expanding to 4 GiB from 4 MiB is refused at the
/// limit, within bounded memory.
#[test]
fn a_zip_bomb_is_refused_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    // Gzip members concatenate: one 16 MiB member compressed once, repeated 256 times.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b'0'; 16 << 20]).unwrap();
    let member = enc.finish().unwrap();
    let bomb: Vec<u8> = member.repeat(256);
    let gz = dir.path().join("trafikkdata.csv.gz");
    std::fs::write(&gz, &bomb).unwrap();
    let zp = dir.path().join("bomb.zip");
    zip_of(&zp, &[("eksport/trafikkdata.csv.gz", &bomb)]);
    let mut peaks = Vec::new();
    for (input, named) in [
        (&gz, "trafikkdata.csv.gz"),
        (&zp, "bomb.zip!eksport/trafikkdata.csv.gz"),
    ] {
        let (ok_, err, mib) = run_measured(&[
            "ingest",
            "traffic",
            input.to_str().unwrap(),
            "--out",
            data.to_str().unwrap(),
        ]);
        assert!(!ok_);
        assert!(
            err.contains(&format!("{named}: expands to more than")),
            "{err}"
        );
        assert!(err.contains("refused as a possible zip bomb"), "{err}");
        assert!(mib < 768, "{named}: peak RSS {mib} MiB");
        peaks.push(mib);
    }
    assert!(!data.join("traffic_hourly").exists());
    eprintln!(
        "bombs of {} MiB → 4 GiB refused at peak RSS {} MiB (gz) and {} MiB (zip)",
        bomb.len() >> 20,
        peaks[0],
        peaks[1]
    );
}

/// A self-intersecting ("bow-tie") zone is rejected with the reason and where; `--repair`
/// stores its repair and lists it; `ST_IsValid` agrees.
#[test]
fn a_bowtie_zone_is_rejected_or_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let gj = dir.path().join("zones.geojson");
    std::fs::write(
        &gj,
        r#"{"type": "FeatureCollection", "features": [
{"type": "Feature", "properties": {"id": "ok"}, "geometry": {"type": "Polygon", "coordinates": [[[10.0, 59.0], [11.0, 59.0], [11.0, 60.0], [10.0, 60.0], [10.0, 59.0]]]}},
{"type": "Feature", "properties": {"id": "bowtie"}, "geometry": {"type": "Polygon", "coordinates": [[[12.0, 59.0], [13.0, 60.0], [13.0, 59.0], [12.0, 60.0], [12.0, 59.0]]]}}
]}"#,
    )
    .unwrap();
    let out = ok(&[
        "ingest",
        "zones",
        gj.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(out.contains("1 rejected row(s)"), "{out}");
    let rejects = std::fs::read_to_string(data.join("_rejects/zones-zones.geojson.csv")).unwrap();
    assert!(
        rejects.contains("zone bowtie: invalid polygon: self-intersection at (12.5 59.5) in the shell of polygon 1"),
        "{rejects}"
    );
    assert!(
        rejects
            .lines()
            .nth(1)
            .unwrap()
            .contains(",3,features[1].geometry,"),
        "{rejects}"
    );
    assert_eq!(
        strings(&table(&data, "zones"), "zone_id"),
        [Some("ok".into())]
    );

    let repaired = dir.path().join("r");
    let out = ok(&[
        "ingest",
        "zones",
        gj.to_str().unwrap(),
        "--repair",
        "--out",
        repaired.to_str().unwrap(),
    ]);
    assert!(!out.contains("rejected row(s)"), "{out}");
    let notes = std::fs::read_to_string(repaired.join("_rejects/zones-zones.geojson.csv")).unwrap();
    assert!(
        notes.contains(
            "zone bowtie: repaired (kept): invalid polygon: self-intersection at (12.5 59.5)"
        ),
        "{notes}"
    );
    assert!(notes.contains("2 polygon(s)"), "{notes}");
    let out = ok(&[
        "sql",
        "--data",
        repaired.to_str().unwrap(),
        "--format",
        "csv",
        "-c",
        "SELECT zone_id, ST_IsValid(geometry) AS valid, ST_IsValidReason(geometry) AS why FROM zones ORDER BY zone_id",
    ]);
    assert_eq!(
        out,
        "zone_id,valid,why\nbowtie,true,Valid Geometry\nok,true,Valid Geometry\n"
    );
    assert!(
        mobility(&["check", "--data", repaired.to_str().unwrap()])
            .status
            .success()
    );
}

/// `mobility check` finds what copying a data directory around breaks, and exits 1.
#[test]
fn check_finds_broken_references_keys_and_schemas() {
    let sample = crate::root().join("data/sample");
    let out = ok(&["check", "--data", sample.to_str().unwrap()]);
    assert!(out.contains("no problems found"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    ok(&[
        "synth",
        "--persons",
        "50",
        "--seed",
        "3",
        "--traffic-points",
        "1",
        "--traffic-years",
        "2024-2024",
        "--out",
        data.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok(&["check", "--data", data.to_str().unwrap()]).contains("no problems found"));
    // Break it as a careless copy would: persons of a smaller survey copied over the persons,
    // and a table's file replaced by another table's.
    let small = dir.path().join("small");
    ok(&[
        "synth",
        "--persons",
        "10",
        "--seed",
        "3",
        "--traffic-points",
        "0",
        "--out",
        small.to_str().unwrap(),
        "-q",
    ]);
    std::fs::copy(
        crate::table_dir(&small, "persons").join("data.parquet"),
        crate::table_dir(&data, "persons").join("data.parquet"),
    )
    .unwrap();
    let occ = crate::table_dir(&data, "occupancy").join("data.parquet");
    std::fs::copy(
        crate::table_dir(&data, "fleet_mix").join("data.parquet"),
        &occ,
    )
    .unwrap();
    let out = mobility(&["check", "--data", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("problem: occupancy:")
            && text.contains("column persons_per_vehicle is missing"),
        "{text}"
    );
    assert!(
        text.contains("problem: trips: ")
            && text.contains("name a person_id that persons does not have"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("problem(s) found"), "{err}");
    // A NULL where the model allows none is reported, the other problems with it.
    let persons = crate::table_dir(&data, "persons").join("data.parquet");
    let b = crate::table(&data, "persons");
    let idx = b.schema().index_of("weight").unwrap();
    let mut cols = b.columns().to_vec();
    let w = arrow::array::AsArray::as_primitive::<arrow::datatypes::Float64Type>(&cols[idx]);
    let with_null: arrow::array::Float64Array =
        (0..w.len()).map(|i| (i != 0).then(|| w.value(i))).collect();
    cols[idx] = std::sync::Arc::new(with_null);
    let fields: Vec<arrow::datatypes::Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    let lenient = arrow::array::RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
        cols,
    )
    .unwrap();
    let mut wr = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&persons).unwrap(),
        lenient.schema(),
        None,
    )
    .unwrap();
    wr.write(&lenient).unwrap();
    wr.close().unwrap();
    let out = mobility(&["check", "--data", data.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("column weight has 1 NULL value(s); the data model allows none")
            && text.contains("problem: occupancy:"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A lost pointer beside committed generations is named, not read as an empty directory.
    std::fs::rename(data.join("_current"), data.join("current.bak")).unwrap();
    let out = mobility(&["check", "--data", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("_current is missing but"));
    let csv = dir.path().join("one.csv");
    std::fs::write(&csv, export(&point_ids("3", 1), 1)).unwrap();
    let err = fails(&[
        "ingest",
        "traffic",
        csv.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(err.contains("_current is missing but"), "{err}");
    std::fs::rename(data.join("current.bak"), data.join("_current")).unwrap();
    // A damaged pointer is named with its line.
    std::fs::write(data.join("_current"), "mobility-data 1\ncommit seven\n").unwrap();
    let out = mobility(&["check", "--data", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("_current, line 2: 'seven' is not a commit number")
    );
}

/// Zone validity against GEOS (shapely), on the 357 real municipalities whose simplified
/// boundaries cross in places: the same zones are rejected, with a location; `--repair` makes
/// every one valid for GEOS too.
#[test]
fn zone_validity_agrees_with_geos_on_the_real_municipalities() {
    let Some(real) = crate::shared_data() else {
        return;
    };
    if !crate::python_with("shapely, pyarrow") {
        return;
    }
    let geojson = real.join("kommuner-2024-s.geojson");
    let dir = tempfile::tempdir().unwrap();
    let (strict, repaired) = (dir.path().join("s"), dir.path().join("r"));
    let ingest = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "ingest",
            "zones",
            geojson.to_str().unwrap(),
            "--id-field",
            "kommunenummer",
            "--kind",
            "kommune",
        ];
        args.extend(extra);
        args.extend(["--out", out.to_str().unwrap()]);
        ok(&args);
    };
    ingest(&strict, &[]);
    ingest(&repaired, &["--repair"]);
    let script = r#"
import csv, glob, json, sys
import pyarrow.parquet as pq
import shapely
from shapely.geometry import shape
fc = json.load(open(sys.argv[1]))
invalid = sorted(str(f["properties"]["kommunenummer"]) for f in fc["features"] if not shape(f["geometry"]).is_valid)
rows = list(csv.DictReader(open(glob.glob(sys.argv[2] + "/_rejects/*.csv")[0], encoding="utf-8")))
rejected = sorted(r["reason"].split(":")[0].split()[1] for r in rows)
assert rejected == invalid, (rejected, invalid)
assert all(" at (" in r["reason"] for r in rows), rows
t = pq.read_table(glob.glob(sys.argv[3] + "/zones/g*/data.parquet")[0]).to_pydict()
geoms = shapely.from_wkb(t["geometry"])
assert len(geoms) == len(fc["features"]), len(geoms)
bad = [z for z, g in zip(t["zone_id"], geoms) if not g.is_valid]
assert not bad, bad
print(len(invalid), "invalid for GEOS and for mobility;", len(geoms), "valid after --repair")
"#;
    let said = crate::python(&[
        std::ffi::OsStr::new("-c"),
        script.as_ref(),
        geojson.as_os_str(),
        strict.as_os_str(),
        repaired.as_os_str(),
    ]);
    assert!(said.starts_with("28 invalid"), "{said}");
    eprint!("{said}");
}

/// Superseded generations are removed only while no reader holds the readers' lease: a `run`
/// or `sql` session opened before two commits still finds its files.
#[test]
fn superseded_generations_wait_for_open_readers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let ingest = |prefix: &str| {
        let f = dir.path().join(format!("{prefix}.csv"));
        std::fs::write(&f, export(&point_ids(prefix, 1), 1)).unwrap();
        ok(&[
            "ingest",
            "traffic",
            f.to_str().unwrap(),
            "--out",
            data.to_str().unwrap(),
            "-q",
        ]);
    };
    let generations = || {
        let mut g: Vec<String> = std::fs::read_dir(data.join("traffic_hourly"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        g.sort();
        g
    };
    ingest("1");
    ingest("2");
    // No reader: the superseded generation is gone.
    assert_eq!(generations(), ["g00000002"]);
    // A reader opens (as a session does) and reads commit 2's files ...
    let lease = mobility_model::layout::reader_lease(&data).expect("a writable directory");
    let reader_files = crate::table_dir(&data, "traffic_hourly");
    ingest("3");
    ingest("4");
    // ... which stay through two commits while it is open.
    assert_eq!(generations(), ["g00000002", "g00000003", "g00000004"]);
    assert!(reader_files.join("2024-03.parquet").exists());
    drop(lease);
    ingest("5");
    assert_eq!(generations(), ["g00000005"]);
    assert_eq!(table(&data, "traffic_points").num_rows(), 5);
}
