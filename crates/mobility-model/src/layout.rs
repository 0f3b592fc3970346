//! The layout of a data directory, and the one pointer that says which files are committed.
//!
//! ```text
//! <data>/_current                    the committed generation of each table (text, see below)
//! <data>/<table>/g<commit>/*.parquet a table's files as of the commit that last wrote it
//! <data>/<table>/*.parquet           the layout before generations, read while _current does
//!                                    not name the table
//! <data>/_lock                       the writers' lock (who holds it, as text)
//! <data>/_readers                    the readers' lease (shared locks of open readers)
//! <data>/_rejects/<kind>-<file>.csv  rejected rows of the last ingest of each input
//! ```
//! A writer puts a table's new files in a fresh generation folder and then replaces `_current`
//! by one atomic rename, so a reader that reads `_current` once sees every table as of one commit,
//! never half of one, and files of an interrupted commit are never read. `_current` is text a
//! person can read:
//! ```text
//! mobility-data 1
//! commit 7
//! persons persons/g00000005
//! traffic_hourly traffic_hourly/g00000007
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::Table;

/// The pointer file's name inside a data directory.
pub const POINTER: &str = "_current";
/// The lock file's name inside a data directory.
pub const LOCK: &str = "_lock";
/// The readers' lease file: each reader holds a shared lock on it while it reads, and a writer
/// removes superseded generations only when it can lock it exclusively (no reader is open).
pub const READERS: &str = "_readers";
const MAGIC: &str = "mobility-data 1";

/// Which files of a data directory are committed: one read of its pointer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The number of the last commit (0 before the first).
    pub commit: u64,
    /// Table name → its folder, relative to the data directory.
    tables: BTreeMap<String, String>,
}

impl Snapshot {
    /// Reads the pointer of the data directory at `root` (an empty snapshot where there is none:
    /// a new directory, or one in the layout before generations). Errors name the pointer file.
    /// A pointer missing beside generation folders is an error, not an empty directory: those
    /// folders are committed data whose pointer was lost (deleted, or left out by a copy), and
    /// reading, or writing over, them as if there were none would lose it.
    pub fn read(root: &Path) -> io::Result<Self> {
        let path = root.join(POINTER);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|(line, msg)| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}, line {line}: {msg}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(g) = Table::ALL.iter().find_map(|t| {
                    let dir = root.join(t.name());
                    std::fs::read_dir(&dir).ok()?.flatten().find_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        parse_generation_dir(&name).map(|_| dir.join(name))
                    })
                }) {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!(
                            "{} is missing but {} holds committed data: restore the pointer (from the copy or backup the directory came from); nothing was read or written",
                            path.display(),
                            g.display()
                        ),
                    ));
                }
                Ok(Self::default())
            }
            Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
    }

    /// Parses a pointer's text; an error is (line, what is wrong).
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, l)) if l.trim() == MAGIC => {}
            other => {
                return Err((
                    1,
                    format!(
                        "expected '{MAGIC}', found '{}'",
                        other.map(|(_, l)| l).unwrap_or("")
                    ),
                ));
            }
        }
        let mut snap = Snapshot::default();
        for (i, line) in lines {
            let mut f = line.split_whitespace();
            match (f.next(), f.next(), f.next()) {
                (None, _, _) => {}
                (Some("commit"), Some(n), None) => {
                    snap.commit = n
                        .parse()
                        .map_err(|_| (i + 1, format!("'{n}' is not a commit number")))?;
                }
                (Some(table), Some(dir), None) => {
                    let t: Table = table
                        .parse()
                        .map_err(|_| (i + 1, format!("unknown table '{table}'")))?;
                    let mut parts = Path::new(dir).components();
                    let ok = parts.next() == Some(std::path::Component::Normal(t.name().as_ref()))
                        && parts.all(|c| matches!(c, std::path::Component::Normal(_)));
                    if !ok {
                        return Err((i + 1, format!("'{dir}' is not a folder of table {table}")));
                    }
                    snap.tables.insert(table.to_string(), dir.to_string());
                }
                _ => return Err((i + 1, format!("expected 'TABLE FOLDER', found '{line}'"))),
            }
        }
        Ok(snap)
    }

    /// The pointer's text.
    pub fn to_text(&self) -> String {
        let mut s = format!("{MAGIC}\ncommit {}\n", self.commit);
        for (t, d) in &self.tables {
            s.push_str(&format!("{t} {d}\n"));
        }
        s
    }

    /// The folder of a table's committed files.
    pub fn table_dir(&self, root: &Path, table: Table) -> PathBuf {
        match self.tables.get(table.name()) {
            Some(d) => root.join(d),
            None => root.join(table.name()),
        }
    }

    /// The generation (commit number) a table was last written by, if it has one.
    pub fn generation(&self, table: Table) -> Option<u64> {
        self.tables
            .get(table.name())
            .and_then(|d| d.rsplit('/').next())
            .and_then(|g| g.strip_prefix('g'))
            .and_then(|n| n.parse().ok())
    }

    /// Points `table` at generation `commit`.
    pub fn set_generation(&mut self, table: Table, commit: u64) {
        self.tables.insert(
            table.name().to_string(),
            format!("{}/{}", table.name(), generation_dir(commit)),
        );
    }

    /// The committed Parquet files of a table, sorted (none when the table does not exist).
    pub fn parts(&self, root: &Path, table: Table) -> io::Result<Vec<PathBuf>> {
        parquet_files(&self.table_dir(root, table))
    }
}

/// A reader's lease on a data directory: a shared lock on `_readers`, held while the reader
/// may open files of the snapshot it read, so that no writer removes them meanwhile (writers
/// remove superseded generations only when they can lock it exclusively). `None` where the
/// directory is read-only, where no writer can change it either.
pub fn reader_lease(root: &Path) -> Option<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.join(READERS))
        .ok()?;
    f.lock_shared().ok()?;
    Some(f)
}

/// The folder name of generation `commit` inside a table's folder.
pub fn generation_dir(commit: u64) -> String {
    format!("g{commit:08}")
}

/// The generation number of a folder name made by [`generation_dir`].
pub fn parse_generation_dir(name: &str) -> Option<u64> {
    name.strip_prefix('g')
        .filter(|n| n.len() >= 8 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

/// The `*.parquet` files directly in `dir`, sorted (none when `dir` does not exist). Errors are
/// the file system's, without the path: callers name it.
pub fn parquet_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in rd {
        let p = e?.path();
        if p.is_file() && p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_round_trips_and_resolves_folders() {
        let mut s = Snapshot {
            commit: 7,
            ..Default::default()
        };
        s.set_generation(Table::Persons, 5);
        s.set_generation(Table::TrafficHourly, 7);
        let text = s.to_text();
        assert_eq!(
            text,
            "mobility-data 1\ncommit 7\npersons persons/g00000005\ntraffic_hourly traffic_hourly/g00000007\n"
        );
        let back = Snapshot::parse(&text).unwrap();
        assert_eq!(back, s);
        let root = Path::new("/d");
        assert_eq!(
            back.table_dir(root, Table::Persons),
            Path::new("/d/persons/g00000005")
        );
        // A table the pointer does not name is read in the layout before generations.
        assert_eq!(back.table_dir(root, Table::Trips), Path::new("/d/trips"));
        assert_eq!(back.generation(Table::TrafficHourly), Some(7));
        assert_eq!(back.generation(Table::Trips), None);
    }

    #[test]
    fn a_damaged_pointer_names_its_line() {
        assert_eq!(Snapshot::parse("").unwrap_err().0, 1);
        let e = Snapshot::parse("mobility-data 1\ncommit x\n").unwrap_err();
        assert_eq!(e, (2, "'x' is not a commit number".to_string()));
        let e = Snapshot::parse("mobility-data 1\npersons ../elsewhere\n").unwrap_err();
        assert_eq!(e.0, 2);
        let e = Snapshot::parse("mobility-data 1\nnot_a_table x/g1\n").unwrap_err();
        assert_eq!(e, (2, "unknown table 'not_a_table'".to_string()));
    }

    #[test]
    fn a_lost_pointer_beside_generations_is_an_error_not_an_empty_directory() {
        let dir = std::env::temp_dir().join(format!("mobility-layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("persons")).unwrap();
        // The layout before generations: no pointer, files in the table folder.
        assert_eq!(Snapshot::read(&dir).unwrap(), Snapshot::default());
        std::fs::create_dir_all(dir.join("persons").join(generation_dir(4))).unwrap();
        let e = Snapshot::read(&dir).unwrap_err().to_string();
        assert!(
            e.contains("_current is missing but") && e.contains("g00000004"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn generation_folder_names() {
        assert_eq!(generation_dir(12), "g00000012");
        assert_eq!(parse_generation_dir("g00000012"), Some(12));
        assert_eq!(parse_generation_dir("g12"), None);
        assert_eq!(parse_generation_dir("data.parquet"), None);
    }
}
