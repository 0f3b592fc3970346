//! Mutation fuzzing of the readers, on stable Rust.
//!
//! Each [`Target`] feeds bytes to one reader exactly as an ingest does (decode, then parse).
//! [`fuzz`] mutates the inputs of a corpus (bit flips, special bytes, inserted, deleted and
//! repeated ranges, splices of two inputs, extreme numbers, truncation) and runs each mutant
//! under `catch_unwind`; the binary's allocator ([`Guard`]) refuses any single allocation over
//! [`MAX_ALLOCATION`], so a reader that sizes a buffer from a number in its input is found
//! (the input saved, the run aborted). A panic, an oversized allocation or an input taking over [`SLOW`] is a finding:
//! the input is written to `fuzz/crashes/<target>/` to become a regression test once fixed
//! (`fuzz/regressions/<target>/`, run by this crate's tests).
//!
//! It is not coverage-guided (cargo-fuzz needs nightly and a sanitizer build of the whole
//! dependency tree); the corpus seeds are real and edge-case files, so mutants stay close to
//! what the readers see.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mobility_ingest::source::decode;

/// The largest single allocation the fuzzed readers may make: inputs are at most
/// [`MAX_INPUT`] bytes, so anything this large was sized from a number in the input.
pub const MAX_ALLOCATION: usize = 256 << 20;
/// The largest mutant.
pub const MAX_INPUT: usize = 1 << 20;
/// An input taking longer than this is reported as a hang.
pub const SLOW: Duration = Duration::from_secs(2);

/// One reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// trafikkdata.no hourly CSV export.
    Traffic,
    /// The registration points of the trafikkdata GraphQL API.
    Points,
    /// Zones in GeoJSON.
    Zones,
    /// A survey's persons and trips CSV with the canonical mapping.
    Survey,
    /// GTFS `stops.txt`.
    Gtfs,
    /// Emission factors, fleet mix, occupancy CSV.
    Factors,
    /// Archives: zip and gzip as the ingest opens them.
    Archive,
    /// Well-Known Binary geometry.
    Wkb,
    /// Well-Known Text geometry, as `ST_GeomFromText` reads it.
    Wkt,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 9] = [
        Target::Traffic,
        Target::Points,
        Target::Zones,
        Target::Survey,
        Target::Gtfs,
        Target::Factors,
        Target::Archive,
        Target::Wkb,
        Target::Wkt,
    ];

    /// The target's name (its corpus folder).
    pub fn name(self) -> &'static str {
        match self {
            Target::Traffic => "traffic",
            Target::Points => "points",
            Target::Zones => "zones",
            Target::Survey => "survey",
            Target::Gtfs => "gtfs",
            Target::Factors => "factors",
            Target::Archive => "archive",
            Target::Wkb => "wkb",
            Target::Wkt => "wkt",
        }
    }

    /// The target of a name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }

    /// Feeds one input to the reader. Errors are fine (bad input must give one); only a
    /// panic, an oversized allocation or a hang is a finding.
    pub fn run(self, bytes: &[u8], scratch: &Path) {
        match self {
            Target::Traffic => {
                if let Ok(f) = decode("fuzz.csv", bytes) {
                    let _ = mobility_ingest::traffic::parse(&f);
                }
            }
            Target::Points => {
                if let Ok(f) = decode("fuzz.json", bytes) {
                    let _ = mobility_ingest::points::parse(&f);
                }
            }
            Target::Zones => {
                if let Ok(f) = decode("fuzz.geojson", bytes) {
                    for repair in [false, true] {
                        let opts = mobility_ingest::zones::ZoneOptions {
                            id_field: "id".into(),
                            name_field: Some("name".into()),
                            kind: "fuzz".into(),
                            crs: None,
                            repair,
                        };
                        let _ = mobility_ingest::zones::parse(&f, &opts);
                    }
                }
            }
            Target::Survey => {
                // The input is persons.csv and trips.csv, split at the first form feed.
                let (p, t) = match bytes.iter().position(|&b| b == 0x0c) {
                    Some(i) => (&bytes[..i], &bytes[i + 1..]),
                    None => (bytes, &b"trip_id,person_id\n"[..]),
                };
                let dir = scratch.join("survey");
                let _ = std::fs::create_dir_all(&dir);
                let hh = b"household_id,size,cars,weight\n1,2,1,1.0\n2,1,0,1.0\n";
                if std::fs::write(dir.join("households.csv"), hh).is_ok()
                    && std::fs::write(dir.join("persons.csv"), p).is_ok()
                    && std::fs::write(dir.join("trips.csv"), t).is_ok()
                    && let Ok(m) = mobility_ingest::survey::Mapping::load("canonical")
                {
                    let _ = mobility_ingest::survey::read(&m, &[dir]);
                }
            }
            Target::Gtfs => {
                if let Ok(f) = decode("stops.txt", bytes) {
                    let _ = mobility_ingest::gtfs::parse(&f);
                }
            }
            Target::Factors => {
                for name in ["emission_factors.csv", "fleet_mix.csv", "occupancy.csv"] {
                    if let Ok(f) = decode(name, bytes) {
                        let _ = mobility_ingest::factors::parse(&f);
                    }
                }
            }
            Target::Archive => {
                for name in ["fuzz.zip", "fuzz.csv.gz"] {
                    let p = scratch.join(name);
                    if std::fs::write(&p, bytes).is_ok() {
                        let _ = mobility_ingest::source::read_inputs(&p, &[".csv", ".json"]);
                    }
                }
            }
            Target::Wkb => {
                // ST_AsText's path: the bytes straight to WKT, Z and M kept.
                let _ = mobility_geo::wkb::to_wkt(bytes);
                if let Ok(g) = mobility_geo::wkb::from_wkb(bytes) {
                    let _ = mobility_geo::valid::invalidity(&g);
                    let _ = mobility_geo::wkb::to_wkb(&g);
                }
            }
            Target::Wkt => {
                if let Ok(s) = std::str::from_utf8(bytes)
                    && let Ok(w) = <wkt::Wkt<f64> as std::str::FromStr>::from_str(s)
                    && let Ok(g) = geo::Geometry::try_from(w)
                {
                    let _ = mobility_geo::valid::invalidity(&g);
                    let _ = mobility_geo::wkb::to_wkb(&g);
                }
            }
        }
    }
}

/// An allocator that refuses any allocation over [`MAX_ALLOCATION`] (a reader sizing a
/// buffer from a number in its input): it saves the input being run to the crash folder and
/// aborts, since an allocator must not unwind. Install it with `#[global_allocator]`.
pub struct Guard;

static CURRENT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static CURRENT_LEN: AtomicUsize = AtomicUsize::new(0);
static CRASH_DIR: OnceLock<PathBuf> = OnceLock::new();

// SAFETY: every call is forwarded to the system allocator unchanged, or aborts.
unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            oversized(layout.size());
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            oversized(new_size);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cold]
fn oversized(size: usize) -> ! {
    eprintln!("finding: an allocation of {size} bytes from an input of at most 1 MiB");
    let (ptr, len) = (
        CURRENT.load(Ordering::SeqCst),
        CURRENT_LEN.load(Ordering::SeqCst),
    );
    if let Some(dir) = CRASH_DIR.get()
        && !ptr.is_null()
    {
        // SAFETY: `run_one` stores the input it runs and clears it after; the input outlives
        // the run, and this runs inside it.
        let input = unsafe { std::slice::from_raw_parts(ptr, len) };
        let _ = std::fs::create_dir_all(dir);
        let path = dir.join("oversized-allocation");
        let _ = std::fs::write(&path, input);
        eprintln!("input saved to {}", path.display());
    }
    std::process::abort()
}

/// What went wrong with one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The reader panicked (an oversized allocation panics too, see the binary's allocator).
    Panic(String),
    /// The reader took longer than [`SLOW`].
    Slow(Duration),
}

/// Runs one input, catching a panic.
pub fn run_one(target: Target, bytes: &[u8], scratch: &Path) -> Option<Finding> {
    let t0 = Instant::now();
    CURRENT_LEN.store(bytes.len(), Ordering::SeqCst);
    CURRENT.store(bytes.as_ptr().cast_mut(), Ordering::SeqCst);
    let r = catch_unwind(AssertUnwindSafe(|| target.run(bytes, scratch)));
    CURRENT.store(std::ptr::null_mut(), Ordering::SeqCst);
    if let Err(p) = r {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into());
        return Some(Finding::Panic(msg));
    }
    let took = t0.elapsed();
    (took > SLOW).then_some(Finding::Slow(took))
}

/// A small, seedable random source (xorshift64*), so a run can be repeated.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A source from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

const SPECIAL: &[u8] = b"\0\xff\n\r;,\"-{}[]:.0123456789eE+ \t\xc3\xd8\x80";
const EXTREMES: &[&str] = &[
    "-1",
    "0",
    "NaN",
    "inf",
    "-inf",
    "1e308",
    "-1e308",
    "99999999999999999999",
    "4294967295",
    "18446744073709551616",
    "2147483648",
    "-0",
    "1,5",
    "1 000",
    "\u{a0}",
    "",
];

/// A mutant of `input` (and `other`, for splices), at most [`MAX_INPUT`] bytes.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = v.len();
        match rng.below(9) {
            0 if n > 0 => {
                let i = rng.below(n);
                v[i] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let i = rng.below(n);
                v[i] = SPECIAL[rng.below(SPECIAL.len())];
            }
            2 => {
                let i = rng.below(n + 1);
                let k = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..k).map(|_| SPECIAL[rng.below(SPECIAL.len())]).collect();
                v.splice(i..i, bytes);
            }
            3 if n > 0 => {
                let i = rng.below(n);
                let k = 1 + rng.below((n - i).min(64));
                v.drain(i..i + k);
            }
            4 if n > 0 => {
                // Repeat a range: lines repeated, headers in the middle, long fields.
                let i = rng.below(n);
                let k = 1 + rng.below((n - i).min(256));
                let chunk = v[i..i + k].to_vec();
                let times = 1 + rng.below(16);
                let at = rng.below(n + 1);
                for _ in 0..times {
                    v.splice(at..at, chunk.iter().copied());
                }
            }
            5 if !other.is_empty() => {
                let cut = rng.below(n + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            6 if n > 0 => {
                // Replace a run of digits with an extreme number.
                let i = rng.below(n);
                if let Some(s) = v[i..].iter().position(|b| b.is_ascii_digit()) {
                    let s = i + s;
                    let e = v[s..]
                        .iter()
                        .position(|b| !b.is_ascii_digit() && *b != b'.')
                        .map_or(v.len(), |e| s + e);
                    let x = EXTREMES[rng.below(EXTREMES.len())];
                    v.splice(s..e, x.bytes());
                }
            }
            7 if n > 0 => v.truncate(rng.below(n)),
            _ if n > 1 => {
                // Swap two bytes far apart (delimiters moved, quotes unbalanced).
                let (i, j) = (rng.below(n), rng.below(n));
                v.swap(i, j);
            }
            _ => v.push(SPECIAL[rng.below(SPECIAL.len())]),
        }
    }
    v.truncate(MAX_INPUT);
    v
}

/// The files of a folder, sorted (none if it does not exist).
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The outcome of a fuzzing run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Inputs run.
    pub execs: u64,
    /// Inputs that found something, with the file each was saved to.
    pub findings: Vec<(PathBuf, Finding)>,
}

/// Fuzzes `target` for `time`, mutating the inputs of `corpus`; findings are written to
/// `crashes`.
pub fn fuzz(
    target: Target,
    corpus: &[Vec<u8>],
    time: Duration,
    seed: u64,
    crashes: &Path,
) -> Stats {
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let _ = CRASH_DIR.set(crashes.to_path_buf());
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    let t0 = Instant::now();
    let empty = Vec::new();
    while t0.elapsed() < time {
        let a = corpus.get(rng.below(corpus.len())).unwrap_or(&empty);
        let b = corpus.get(rng.below(corpus.len())).unwrap_or(&empty);
        let input = mutate(&mut rng, a, b);
        stats.execs += 1;
        if let Some(f) = run_one(target, &input, scratch.path()) {
            let _ = std::fs::create_dir_all(crashes);
            let name = {
                use sha2::Digest;
                let d = sha2::Sha256::digest(&input);
                d.iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            };
            let path = crashes.join(name);
            if let Ok(mut file) = std::fs::File::create(&path) {
                let _ = file.write_all(&input);
            }
            stats.findings.push((path, f));
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same guard as the fuzzer's: a regression that sizes a buffer from its input aborts
    /// this test binary instead of passing on an over-committing system.
    #[global_allocator]
    static GLOBAL: Guard = Guard;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
    }

    /// Every seed and every input that once found a bug (fixed since) runs clean, and so do a
    /// few hundred mutants of each: the short version of `mobility-fuzz all`.
    #[test]
    fn corpus_regressions_and_mutants_run_clean() {
        let scratch = tempfile::tempdir().unwrap();
        for t in Target::ALL {
            let seeds = files(&root().join("corpus").join(t.name()));
            assert!(!seeds.is_empty(), "no corpus for {}", t.name());
            let regressions = files(&root().join("regressions").join(t.name()));
            for p in seeds.iter().chain(&regressions) {
                let bytes = std::fs::read(p).unwrap();
                assert_eq!(run_one(t, &bytes, scratch.path()), None, "{}", p.display());
            }
            let corpus: Vec<Vec<u8>> = seeds.iter().map(|p| std::fs::read(p).unwrap()).collect();
            let crashes = scratch.path().join("crashes");
            let mut rng = Rng::new(7);
            for _ in 0..200 {
                let a = &corpus[rng.below(corpus.len())];
                let b = &corpus[rng.below(corpus.len())];
                let input = mutate(&mut rng, a, b);
                if let Some(f) = run_one(t, &input, scratch.path()) {
                    std::fs::create_dir_all(&crashes).unwrap();
                    let p = crashes.join(t.name());
                    std::fs::write(&p, &input).unwrap();
                    panic!("{}: {f:?} on {}", t.name(), p.display());
                }
            }
        }
    }

    #[test]
    fn mutants_differ_and_stay_bounded() {
        let mut rng = Rng::new(1);
        let seed = b"a;b;c\n1;2;3\n".to_vec();
        let mutants: Vec<Vec<u8>> = (0..100).map(|_| mutate(&mut rng, &seed, &seed)).collect();
        assert!(mutants.iter().filter(|m| **m != seed).count() > 80);
        assert!(mutants.iter().all(|m| m.len() <= MAX_INPUT));
    }
}
