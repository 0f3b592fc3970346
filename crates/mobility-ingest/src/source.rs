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
    /// SHA-256 of the raw bytes, hex.
    pub sha256: String,
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

/// Reads a file, unpacking `.gz` and `.zip` (every member whose name ends in one of `members`,
/// e.g. `[".csv"]`), and decodes each as text.
pub fn read_text(path: &Path, members: &[&str]) -> Result<Vec<TextFile>> {
    let name = path.display().to_string();
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".zip") {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&raw))
            .map_err(|e| Error::format(&name, None, format!("not a readable zip archive: {e}")))?;
        let mut out = Vec::new();
        for i in 0..archive.len() {
            let mut entry = archive
                .by_index(i)
                .map_err(|e| Error::format(&name, None, format!("zip member {i}: {e}")))?;
            let member = entry.name().to_string();
            let ml = member.to_ascii_lowercase();
            if entry.is_dir() || !members.iter().any(|m| ml.ends_with(m)) {
                continue;
            }
            let full = format!("{name}!{member}");
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(|e| {
                Error::format(&full, None, format!("truncated or corrupt zip member: {e}"))
            })?;
            out.push(decode(&full, &bytes)?);
        }
        if out.is_empty() {
            return Err(Error::format(
                &name,
                None,
                format!(
                    "the zip archive holds no member ending in {}",
                    members.join(" or ")
                ),
            ));
        }
        Ok(out)
    } else if lower.ends_with(".gz") {
        let mut bytes = Vec::with_capacity(raw.len() * 8);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Error::format(&name, None, format!("truncated or corrupt gzip data: {e}"))
            })?;
        Ok(vec![decode(&name, &bytes)?])
    } else {
        Ok(vec![decode(&name, &raw)?])
    }
}

/// Decodes bytes as UTF-8 when they are valid UTF-8, else as ISO-8859-1. UTF-16 and binary
/// data are refused: Latin-1 would decode them into garbage without complaint.
pub fn decode(name: &str, bytes: &[u8]) -> Result<TextFile> {
    let sha256 = sha256_hex(bytes);
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
    let (encoding, text) = match std::str::from_utf8(body) {
        Ok(s) => (Encoding::Utf8, s.to_string()),
        Err(_) => {
            let (s, _, _) = encoding_rs::WINDOWS_1252.decode(body);
            (Encoding::Latin1, s.into_owned())
        }
    };
    Ok(TextFile {
        name: name.to_string(),
        encoding,
        text,
        sha256,
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
}
