//! Opening inputs as they are downloaded: plain, `.gz` or `.zip`, UTF-8 or ISO-8859-1.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The text encodings the readers accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (a byte-order mark is dropped).
    Utf8,
    /// ISO-8859-1 (read as its superset Windows-1252, as browsers and encoding_rs do).
    Latin1,
}

impl Encoding {
    /// The name shown in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Latin1 => "ISO-8859-1",
        }
    }
}

/// A text input, decoded.
#[derive(Debug)]
pub struct TextFile {
    /// The name used in messages and rejects: the path, or `archive.zip!member`.
    pub name: String,
    /// The detected encoding.
    pub encoding: Encoding,
    /// The decoded text.
    pub text: String,
}

/// Expands folders into the files they hold (sorted, not recursive into hidden folders).
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::io(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            entries.sort();
            out.extend(entries);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(Error::io(
                p,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            ));
        }
    }
    Ok(out)
}

/// How far an archive or a gzip stream may expand before it is refused as a zip bomb.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes all members of one input may expand to.
    pub max_total: u64,
    /// Expanded bytes per compressed byte of a member, checked once a member passes
    /// `ratio_from` bytes (real exports compress 5–20 times; a bomb a thousand times).
    pub max_ratio: u64,
    /// Expanded size below which the ratio is not checked.
    pub ratio_from: u64,
}

impl Limits {
    /// The most a member of `packed` compressed bytes may expand to.
    fn cap(&self, packed: u64) -> u64 {
        self.ratio_from
            .max(packed.saturating_mul(self.max_ratio))
            .min(self.max_total)
    }
}

/// The limits every ingest uses.
pub const LIMITS: Limits = Limits {
    max_total: 16 << 30,
    max_ratio: 100,
    ratio_from: 64 << 20,
};

/// An input's decoded files, and the archive members passed over.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The files read, in archive order.
    pub files: Vec<TextFile>,
    /// Members passed over: (`archive.zip!member`, why).
    pub skipped: Vec<(String, String)>,
}

/// Reads a file, unpacking `.gz` and `.zip` (every member at any depth whose name ends in one
/// of `members`, e.g. `[".csv"]`, or in one of them plus `.gz`), and decodes each as text.
/// macOS metadata (`__MACOSX/`, `._name`), hidden files and members of other kinds are passed
/// over and listed in [`Inputs::skipped`]; a member expanding beyond [`LIMITS`] is refused.
pub fn read_inputs(path: &Path, members: &[&str]) -> Result<Inputs> {
    read_inputs_with(path, members, LIMITS)
}

/// [`read_inputs`], returning only the files.
pub fn read_text(path: &Path, members: &[&str]) -> Result<Vec<TextFile>> {
    Ok(read_inputs(path, members)?.files)
}

/// [`read_inputs`] with other limits.
pub fn read_inputs_with(path: &Path, members: &[&str], limits: Limits) -> Result<Inputs> {
    let name = path.display().to_string();
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let lower = name.to_ascii_lowercase();
    let mut budget = limits.max_total;
    if lower.ends_with(".zip") {
        read_zip(&name, &raw, members, limits)
    } else if lower.ends_with(".gz") {
        let bytes = expand_limited(
            &name,
            flate2::read::MultiGzDecoder::new(&raw[..]),
            raw.len() as u64,
            limits,
            &mut budget,
            "gzip",
        )?;
        let file = decode(&name, &bytes);
        give_back(bytes);
        Ok(Inputs {
            files: vec![file?],
            skipped: Vec::new(),
        })
    } else {
        Ok(Inputs {
            files: vec![decode(&name, &raw)?],
            skipped: Vec::new(),
        })
    }
}

/// Why a zip member is passed over, or `None` when it is read.
fn skip_reason(member: &str, members: &[&str]) -> Option<String> {
    let base = member.rsplit('/').next().unwrap_or(member);
    if member.split('/').any(|c| c == "__MACOSX") || base.starts_with("._") {
        return Some("macOS metadata, not data".into());
    }
    if base.starts_with('.') {
        return Some("a hidden file".into());
    }
    let lower = base.to_ascii_lowercase();
    let fits = members
        .iter()
        .any(|m| lower.ends_with(m) || lower.strip_suffix(".gz").is_some_and(|l| l.ends_with(m)));
    (!fits).then(|| format!("not a {} file", members.join(" or ")))
}

fn read_zip(name: &str, raw: &[u8], members: &[&str], limits: Limits) -> Result<Inputs> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(raw))
        .map_err(|e| Error::format(name, None, format!("not a readable zip archive: {e}")))?;
    let mut out = Inputs::default();
    let mut budget = limits.max_total;
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| Error::format(name, None, format!("zip member {i}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let member = entry.name().to_string();
        let full = format!("{name}!{member}");
        if let Some(why) = skip_reason(&member, members) {
            out.skipped.push((full, why));
            continue;
        }
        // The compressed size as the archive declares it, but never more than the archive:
        // a lying header must not raise the limits (nor size a buffer).
        let packed = entry.compressed_size().min(raw.len() as u64);
        // The size the archive declares, checked first; the stream is checked as it expands,
        // since a declared size can lie.
        if entry.size() > limits.cap(packed).min(budget) {
            return Err(bomb(&full, entry.size(), packed, limits));
        }
        let bytes = if member.to_ascii_lowercase().ends_with(".gz") {
            let inner = flate2::read::MultiGzDecoder::new(entry);
            expand_limited(&full, inner, packed, limits, &mut budget, "gzip")?
        } else {
            expand_limited(&full, entry, packed, limits, &mut budget, "zip")?
        };
        let file = decode(&full, &bytes);
        give_back(bytes);
        out.files.push(file?);
    }
    if out.files.is_empty() {
        return Err(Error::format(
            name,
            None,
            format!(
                "the zip archive holds no member ending in {}{}",
                members.join(" or "),
                if out.skipped.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (passed over: {})",
                        out.skipped
                            .iter()
                            .map(|(m, _)| m.rsplit('!').next().unwrap_or(m))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        ));
    }
    Ok(out)
}

/// Reads a decompressing stream to its end, refusing it as soon as it passes the limits, so
/// memory stays bounded by them whatever the stream claims about itself.
fn expand_limited(
    name: &str,
    mut reader: impl Read,
    packed: u64,
    limits: Limits,
    budget: &mut u64,
    what: &str,
) -> Result<Vec<u8>> {
    let cap = limits.cap(packed).min(*budget);
    // The thread's spare buffer (see [`SPARE`]), with a first guess of room, bounded: the
    // vector grows as the stream really expands.
    let mut bytes = SPARE.with(|s| std::mem::take(&mut s.borrow_mut().bytes));
    bytes.clear();
    bytes.reserve(packed.saturating_mul(8).min(cap).min(64 << 20) as usize);
    let read = (&mut reader)
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::format(name, None, format!("truncated or corrupt {what} data: {e}")))?;
    if read as u64 > cap {
        return Err(bomb(name, read as u64, packed, limits));
    }
    *budget -= read as u64;
    Ok(bytes)
}

fn bomb(name: &str, expanded: u64, packed: u64, limits: Limits) -> Error {
    Error::format(
        name,
        None,
        format!(
            "expands to more than {} MiB from {} KiB compressed; refused as a possible zip bomb \
             (limits: {} GiB per input, {}× its compressed size beyond {} MiB). Unpack it yourself \
             and ingest the files if it is genuine",
            expanded >> 20,
            packed >> 10,
            limits.max_total >> 30,
            limits.max_ratio,
            limits.ratio_from >> 20
        ),
    )
}

/// The buffers of the inputs this thread read last, taken again by the next: a decompressed
/// export is tens of MB, and fresh memory for each (then its text) costs the kernel a page
/// fault per 4 KiB, more than the parsing. The bytes come back once decoded; a text comes back
/// through [`recycle`] when its caller is done with it.
#[derive(Default)]
struct Spare {
    bytes: Vec<u8>,
    text: String,
}

thread_local! {
    static SPARE: std::cell::RefCell<Spare> = std::cell::RefCell::new(Spare::default());
}

/// Hands a decompressed input's bytes back to this thread's spare buffer.
fn give_back(bytes: Vec<u8>) {
    SPARE.with(|s| {
        let mut s = s.borrow_mut();
        if bytes.capacity() > s.bytes.capacity() {
            s.bytes = bytes;
        }
    });
}

/// Hands a [`TextFile`]'s text back, once parsed, for the next input read on this thread.
pub fn recycle(text: String) {
    SPARE.with(|s| {
        let mut s = s.borrow_mut();
        if text.capacity() > s.text.capacity() {
            s.text = text;
        }
    });
}

/// Frees the spare buffers of every thread of the pool (and this one's): called when the
/// inputs are read, so that what follows (the merge) has the memory.
pub fn release_spares() {
    let free = || SPARE.with(|s| *s.borrow_mut() = Spare::default());
    rayon::broadcast(|_| free());
    free();
}

/// Decodes bytes as UTF-8 when they are valid UTF-8, else as ISO-8859-1. UTF-16 and binary
/// data are refused: Latin-1 would decode them into garbage without complaint.
pub fn decode(name: &str, bytes: &[u8]) -> Result<TextFile> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Error::format(
            name,
            1,
            "the file is UTF-16 (byte-order mark FF FE or FE FF); expected UTF-8 or ISO-8859-1 text",
        ));
    }
    if let Some(pos) = bytes.iter().take(1 << 16).position(|&b| b == 0) {
        let line = 1 + bytes[..pos].iter().filter(|&&b| b == b'\n').count() as u64;
        return Err(Error::format(
            name,
            line,
            format!(
                "NUL byte at offset {pos}: binary or UTF-16 data; expected UTF-8 or ISO-8859-1 text"
            ),
        ));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut text = SPARE.with(|s| std::mem::take(&mut s.borrow_mut().text));
    text.clear();
    let encoding = match std::str::from_utf8(body) {
        Ok(s) => {
            text.push_str(s);
            Encoding::Utf8
        }
        Err(_) => {
            // Every byte has a character in windows-1252 (WHATWG's ISO-8859-1): nothing is
            // replaced, and the room reserved is what the decoder may need at most.
            let mut decoder = encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling();
            let room = decoder
                .max_utf8_buffer_length(body.len())
                .unwrap_or(body.len().saturating_mul(3));
            text.reserve(room);
            let mut done = 0;
            loop {
                let (result, read, _) = decoder.decode_to_string(&body[done..], &mut text, true);
                done += read;
                match result {
                    encoding_rs::CoderResult::InputEmpty => break,
                    // Not expected with the room above; never a text cut short.
                    encoding_rs::CoderResult::OutputFull => text.reserve(body.len() - done + 16),
                }
            }
            Encoding::Latin1
        }
    };
    Ok(TextFile {
        name: name.to_string(),
        encoding,
        text,
    })
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_latin1_and_utf8() {
        let latin1 = b"Navn\n\xd8rbekk\n";
        let f = decode("x.csv", latin1).unwrap();
        assert_eq!(f.encoding, Encoding::Latin1);
        assert_eq!(f.text, "Navn\nØrbekk\n");
        let utf8 = "\u{feff}Navn\nØrbekk\n".as_bytes();
        let f = decode("x.csv", utf8).unwrap();
        assert_eq!(f.encoding, Encoding::Utf8);
        assert_eq!(f.text, "Navn\nØrbekk\n");
    }

    #[test]
    fn refuses_utf16() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("a;b".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        let err = decode("u16.csv", &utf16).unwrap_err().to_string();
        assert!(
            err.starts_with("u16.csv, line 1: the file is UTF-16"),
            "{err}"
        );
    }

    #[test]
    fn reads_gz_and_zip_and_reports_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("a.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"x;y\n1;2\n").unwrap();
        let bytes = enc.finish().unwrap();
        std::fs::write(&gz, &bytes).unwrap();
        assert_eq!(read_text(&gz, &[".csv"]).unwrap()[0].text, "x;y\n1;2\n");

        std::fs::write(&gz, &bytes[..bytes.len() - 10]).unwrap();
        let err = read_text(&gz, &[".csv"]).unwrap_err().to_string();
        assert!(err.contains("truncated or corrupt gzip"), "{err}");

        let zp = dir.path().join("b.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zp).unwrap());
        w.start_file("inner.csv", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"x;y\n").unwrap();
        w.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.finish().unwrap();
        let files = read_text(&zp, &[".csv"]).unwrap();
        assert_eq!(files.len(), 1);
        assert!(files[0].name.ends_with("b.zip!inner.csv"));
    }

    fn zip_of(path: &Path, members: &[(&str, &[u8])]) {
        let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, bytes) in members {
            if name.ends_with('/') {
                w.add_directory(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
            } else {
                w.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                w.write_all(bytes).unwrap();
            }
        }
        w.finish().unwrap();
    }

    #[test]
    fn a_zip_from_a_mac_reads_its_data_and_lists_the_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("export.zip");
        // As Finder's "Compress" makes it: a folder, the file, and AppleDouble entries whose
        // names also end in .csv (they start with the bytes 00 05 16 07).
        zip_of(
            &zp,
            &[
                ("export/", b""),
                ("export/hour.csv", b"x;y\n1;2\n"),
                ("export/README.txt", b"what this is"),
                (
                    "__MACOSX/export/._hour.csv",
                    b"\x00\x05\x16\x07\x00\x02\x00\x00",
                ),
                ("export/.DS_Store", b"\x00\x00\x00\x01Bud1"),
            ],
        );
        let got = read_inputs(&zp, &[".csv"]).unwrap();
        assert_eq!(got.files.len(), 1);
        assert!(got.files[0].name.ends_with("export.zip!export/hour.csv"));
        assert_eq!(got.files[0].text, "x;y\n1;2\n");
        let skipped: Vec<(&str, &str)> = got
            .skipped
            .iter()
            .map(|(m, why)| (m.rsplit('!').next().unwrap(), why.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                ("export/README.txt", "not a .csv file"),
                ("__MACOSX/export/._hour.csv", "macOS metadata, not data"),
                ("export/.DS_Store", "a hidden file"),
            ]
        );
    }

    #[test]
    fn gzipped_members_at_any_depth_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("many.zip");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"a;b\n3;4\n").unwrap();
        let gz = enc.finish().unwrap();
        zip_of(
            &zp,
            &[("a/b/c/one.csv", b"a;b\n1;2\n"), ("two.CSV.gz", &gz)],
        );
        let got = read_inputs(&zp, &[".csv"]).unwrap();
        let texts: Vec<&str> = got.files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(texts, ["a;b\n1;2\n", "a;b\n3;4\n"]);
        assert!(got.skipped.is_empty());
    }

    #[test]
    fn an_archive_without_data_says_what_it_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("junk.zip");
        zip_of(
            &zp,
            &[("__MACOSX/._x.csv", b"\x00\x05"), ("notes.txt", b"hi")],
        );
        let err = read_inputs(&zp, &[".csv"]).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "junk.zip: the zip archive holds no member ending in .csv (passed over: __MACOSX/._x.csv, notes.txt)"
            ),
            "{err}"
        );
    }

    #[test]
    fn bombs_are_refused_at_the_limit_whatever_the_header_says() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            max_total: 1 << 30,
            max_ratio: 100,
            ratio_from: 1 << 20,
        };
        let zeros = vec![b'0'; 8 << 20];
        // A member expanding 8 MiB from a few KiB: past 1 MiB and 100 times its size.
        let zp = dir.path().join("bomb.zip");
        zip_of(&zp, &[("bomb.csv", &zeros)]);
        let err = read_inputs_with(&zp, &[".csv"], limits)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bomb.zip!bomb.csv: expands to more than"),
            "{err}"
        );
        assert!(err.contains("refused as a possible zip bomb"), "{err}");
        // The same as a .gz stream, which declares no size at all.
        let gzp = dir.path().join("bomb.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&zeros).unwrap();
        std::fs::write(&gzp, enc.finish().unwrap()).unwrap();
        let err = read_inputs_with(&gzp, &[".csv"], limits)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bomb.csv.gz: expands to more than 1 MiB"),
            "{err}"
        );
        // Within the limits the same data reads.
        let roomy = Limits {
            ratio_from: 16 << 20,
            ..limits
        };
        assert_eq!(
            read_inputs_with(&gzp, &[".csv"], roomy).unwrap().files[0]
                .text
                .len(),
            8 << 20
        );
        // The total over the members of one archive is bounded too.
        let tight = Limits {
            max_total: 12 << 20,
            max_ratio: u64::MAX / 2,
            ratio_from: 0,
        };
        let zp = dir.path().join("two.zip");
        zip_of(&zp, &[("a.csv", &zeros), ("b.csv", &zeros)]);
        let err = read_inputs_with(&zp, &[".csv"], tight)
            .unwrap_err()
            .to_string();
        assert!(err.contains("two.zip!b.csv: expands"), "{err}");
    }
}
