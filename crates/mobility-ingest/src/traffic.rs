//! The trafikkdata.no hourly export (`;`, decimal comma, `-` for missing, ISO-8859-1 or UTF-8).
//!
//! Columns are found by their header names, so both the current export and the older one
//! (`Volum`, `Lengdedekningsgrad (%)`) read, and extra columns are ignored. `Felt` is a lane
//! number, `Totalt i retning <place>` or `Totalt`; it becomes `scope`, `lane` and `direction`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int16Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use mobility_model::{Scope, Table};

use crate::parse::{decimal, instant_micros, int};
use crate::rejects::Rejects;
use crate::source::TextFile;
use crate::{Error, Result};

/// Names a column may have in the export, newest first.
const TRP: &[&str] = &["Trafikkregistreringspunkt"];
const NAME: &[&str] = &["Navn"];
const ROAD: &[&str] = &["Vegreferanse"];
const FROM: &[&str] = &["Fra"];
const LANE: &[&str] = &["Felt"];
const VOLUME: &[&str] = &["Trafikkmengde", "Volum"];
const COVERAGE: &[&str] = &["Dekningsgrad (%)"];
const LENGTH_QUALITY: &[&str] = &["Lengdekvalitetsgrad (%)", "Lengdedekningsgrad (%)"];
/// Length classes: header name and the `traffic_hourly` column.
const CLASSES: &[(&str, &str)] = &[
    ("< 5,6m", "volume_lt_5_6m"),
    (">= 5,6m", "volume_ge_5_6m"),
    ("5,6m - 7,6m", "volume_5_6_7_6m"),
    ("7,6m - 12,5m", "volume_7_6_12_5m"),
    ("12,5m - 16,0m", "volume_12_5_16m"),
    (">= 16,0m", "volume_ge_16m"),
    ("16,0m - 24,0m", "volume_16_24m"),
    (">= 24,0m", "volume_ge_24m"),
];

/// A registration point as the export names it.
#[derive(Debug, Clone, PartialEq)]
pub struct PointSeen {
    /// `Navn`.
    pub name: String,
    /// `Vegreferanse`.
    pub road_reference: String,
}

/// One export file, parsed.
#[derive(Debug)]
pub struct Parsed {
    /// The `traffic_hourly` rows, by month (`YYYY-MM`, UTC) as stored.
    pub batch: RecordBatch,
    /// The input line of each row of `batch`.
    pub lines: Vec<u64>,
    /// The data lines read (lines after the header, blank lines not counted).
    pub rows_read: u64,
    /// Rows refused.
    pub rejects: Rejects,
    /// The registration points named in the file.
    pub points: BTreeMap<String, PointSeen>,
}

/// The road category letter of a road reference: `FV160 S1D1 m191` → `F`.
pub fn road_category(road_reference: &str) -> Option<String> {
    let t = road_reference.trim();
    let mut chars = t.chars();
    let first = chars.next()?.to_ascii_uppercase();
    (matches!(first, 'E' | 'R' | 'F' | 'K' | 'P' | 'S')
        && chars.next().is_some_and(|c| c.eq_ignore_ascii_case(&'V')))
    .then(|| first.to_string())
}

fn find(header: &[&str], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| header.iter().position(|h| h.trim() == *n))
}

/// The `;`-separated fields of a line. The export quotes nothing, but a file re-saved by a
/// spreadsheet or R's `write.csv2` may quote every text field (`"Oslo grense"`, `""` for a
/// quote inside); such a line is split as CSV. Plain lines are split without copying.
fn fields(line: &str) -> Vec<std::borrow::Cow<'_, str>> {
    if !line.contains('"') {
        return line.split(';').map(std::borrow::Cow::Borrowed).collect();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            (';', false) => out.push(std::borrow::Cow::Owned(std::mem::take(&mut cur))),
            (c, _) => cur.push(c),
        }
    }
    out.push(std::borrow::Cow::Owned(cur));
    out
}

/// The lines of a text without their `\n` and any `\r` before it, found by `memchr` (`str::lines` finds
/// each `\n` and then compares it as a one-character string: a tenth of the parse).
fn lines_of(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b'\n', text.as_bytes());
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let end = ends.next().unwrap_or(text.len());
        // '\n' is one byte and never inside a UTF-8 character: both slices are on boundaries.
        let line = &text[start..end];
        start = end + 1;
        Some(line.trim_end_matches('\r'))
    })
}

/// A plain line's `;`-separated fields, appended to `out` (as `line.split(';')` gives them).
fn split_fields<'a>(line: &'a str, out: &mut Vec<&'a str>) {
    let mut start = 0;
    for end in memchr::memchr_iter(b';', line.as_bytes()) {
        out.push(&line[start..end]);
        start = end + 1;
    }
    out.push(&line[start..]);
}

/// The positions of the export's columns in its header.
struct Columns {
    trp: usize,
    from: usize,
    lane: usize,
    volume: usize,
    name: Option<usize>,
    road: Option<usize>,
    cov: Option<usize>,
    lq: Option<usize>,
    /// One per entry of [`CLASSES`].
    classes: Vec<Option<usize>>,
}

impl Columns {
    /// Finds the columns in `header`; a missing required one is an error that lists the header.
    fn locate(name: &str, header: &[&str]) -> Result<Self> {
        let need = |names: &[&str]| {
            find(header, names).ok_or_else(|| {
                Error::format(
                    name,
                    1,
                    format!(
                        "missing column '{}'; the header has: {}",
                        names.join("' or '"),
                        header.join(", ")
                    ),
                )
            })
        };
        let trp = need(TRP)?;
        let from = need(FROM)?;
        let lane = need(LANE)?;
        let volume = need(VOLUME)?;
        Ok(Self {
            trp,
            from,
            lane,
            volume,
            name: find(header, NAME),
            road: find(header, ROAD),
            cov: find(header, COVERAGE),
            lq: find(header, LENGTH_QUALITY),
            classes: CLASSES.iter().map(|(h, _)| find(header, &[h])).collect(),
        })
    }
}

/// One data row, checked: its values for the `traffic_hourly` columns.
struct Row<'a> {
    id: &'a str,
    at: i64,
    scope: Scope,
    lane: Option<i16>,
    direction: Option<&'a str>,
    volume: Option<i64>,
    /// Coverage and length quality, in %.
    pct: [Option<f64>; 2],
    /// The volumes of [`CLASSES`].
    classes: [Option<i64>; 8],
}

/// The `traffic_hourly` column builders and the input line of each row.
struct Builders {
    trp: StringBuilder,
    hour: TimestampMicrosecondBuilder,
    scope: StringBuilder,
    lane: Int16Builder,
    direction: StringBuilder,
    volume: Int64Builder,
    coverage: Float64Builder,
    lq: Float64Builder,
    classes: Vec<Int64Builder>,
    lines: Vec<u64>,
}

impl Builders {
    /// Builders sized for `cap` rows.
    fn with_capacity(cap: usize) -> Self {
        Self {
            trp: StringBuilder::with_capacity(cap, cap * 12),
            hour: TimestampMicrosecondBuilder::with_capacity(cap).with_timezone("UTC"),
            scope: StringBuilder::with_capacity(cap, cap * 5),
            lane: Int16Builder::with_capacity(cap),
            direction: StringBuilder::with_capacity(cap, cap * 4),
            volume: Int64Builder::with_capacity(cap),
            coverage: Float64Builder::with_capacity(cap),
            lq: Float64Builder::with_capacity(cap),
            classes: CLASSES
                .iter()
                .map(|_| Int64Builder::with_capacity(cap))
                .collect(),
            lines: Vec::with_capacity(cap),
        }
    }

    /// Appends one checked row, read from line `lineno`.
    #[inline]
    fn append(&mut self, row: Row<'_>, lineno: u64) {
        self.trp.append_value(row.id);
        self.hour.append_value(row.at);
        self.scope.append_value(row.scope.as_str());
        self.lane.append_option(row.lane);
        self.direction.append_option(row.direction);
        self.volume.append_option(row.volume);
        self.coverage.append_option(row.pct[0]);
        self.lq.append_option(row.pct[1]);
        for (b, v) in self.classes.iter_mut().zip(row.classes) {
            b.append_option(v);
        }
        self.lines.push(lineno);
    }

    /// The `traffic_hourly` batch and the input line of each of its rows.
    fn finish(mut self) -> Result<(RecordBatch, Vec<u64>)> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.trp.finish()),
            Arc::new(self.hour.finish()),
            Arc::new(self.scope.finish()),
            Arc::new(self.lane.finish()),
            Arc::new(self.direction.finish()),
            Arc::new(self.volume.finish()),
            Arc::new(self.coverage.finish()),
            Arc::new(self.lq.finish()),
        ];
        cols.extend(
            self.classes
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        let batch = RecordBatch::try_new(Table::TrafficHourly.schema(), cols)?;
        Ok((batch, self.lines))
    }
}

/// Parses an hourly export.
pub fn parse(file: &TextFile) -> Result<Parsed> {
    let name = &file.name;
    let mut lines = lines_of(&file.text);
    let header_line = lines
        .next()
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| {
            Error::format(
                name,
                1,
                "empty file; expected the trafikkdata.no header line",
            )
        })?;
    let header_fields = fields(header_line);
    let header: Vec<&str> = header_fields.iter().map(|f| f.as_ref()).collect();
    check_separator(name, header_line, header.len())?;
    let cols = Columns::locate(name, &header)?;
    read_rows(file, lines, &header, &cols)
}

/// Refuses a header of fewer than two fields: the file is not `;`-separated, and the error
/// guesses its separator.
fn check_separator(name: &str, header_line: &str, n_fields: usize) -> Result<()> {
    if n_fields < 2 {
        // The class names hold commas (`< 5,6m`), so the separator is the commonest one.
        let guess = [(',', "','"), ('\t', "a tab")]
            .iter()
            .map(|(c, n)| (header_line.matches(*c).count(), n))
            .filter(|(k, _)| *k > 0)
            .max_by_key(|(k, _)| *k)
            .map(|(_, n)| format!(" (the header is separated by {n})"))
            .unwrap_or_default();
        return Err(Error::format(
            name,
            1,
            format!("expected ';'-separated columns as in the trafikkdata.no export{guess}"),
        ));
    }
    Ok(())
}

/// Reads the data lines after the header into the batch, its rejects and its points.
fn read_rows<'t>(
    file: &'t TextFile,
    lines: impl Iterator<Item = &'t str>,
    header: &[&str],
    cols: &Columns,
) -> Result<Parsed> {
    let cap = file.text.len() / 120;
    let mut out = Builders::with_capacity(cap);
    let mut rejects = Rejects::new(&file.name);
    let mut points = BTreeMap::new();
    let mut rows_read = 0u64;

    // A plain line's fields borrow from the text, in one vector reused line after line.
    let mut plain: Vec<&str> = Vec::with_capacity(header.len() + 1);
    let mut last_point = String::new();
    for (i, line) in lines.enumerate() {
        let lineno = i as u64 + 2;
        if line.trim().is_empty() {
            continue;
        }
        rows_read += 1;
        let owned;
        let quoted: Vec<&str>;
        let f: &[&str] = if line.contains('"') {
            owned = fields(line);
            quoted = owned.iter().map(|f| f.as_ref()).collect();
            &quoted
        } else {
            plain.clear();
            split_fields(line, &mut plain);
            &plain
        };
        if f.len() != header.len() {
            reject_width(&mut rejects, lineno, header, line, f.len());
            continue;
        }
        // Validate every field before appending anything, so a row is whole or rejected.
        let Some(row) = check_row(f, header, cols, lineno, &mut rejects) else {
            continue;
        };
        see_point(&mut points, &mut last_point, row.id, f, cols);
        out.append(row, lineno);
    }

    let (batch, row_lines) = out.finish()?;
    Ok(Parsed {
        batch,
        lines: row_lines,
        rows_read,
        rejects,
        points,
    })
}

/// Rejects a line whose number of fields is not the header's.
#[cold]
fn reject_width(rejects: &mut Rejects, lineno: u64, header: &[&str], line: &str, n_fields: usize) {
    let what = if n_fields < header.len() {
        "truncated line"
    } else {
        "too many fields"
    };
    rejects.push(
        lineno,
        header
            .get(n_fields.min(header.len() - 1))
            .copied()
            .unwrap_or(""),
        line,
        format!(
            "{what}: {} fields, expected {} as in the header",
            n_fields,
            header.len()
        ),
    );
}

/// Reads one line's fields (as many as the header's) into typed values, or pushes the
/// reject of the first bad field and gives `None`.
#[inline]
fn check_row<'a>(
    f: &[&'a str],
    header: &[&str],
    cols: &Columns,
    lineno: u64,
    rejects: &mut Rejects,
) -> Option<Row<'a>> {
    let id = f[cols.trp].trim();
    if id.is_empty() {
        rejects.push(
            lineno,
            header[cols.trp],
            id,
            "expected a registration point id",
        );
        return None;
    }
    let at = match instant_micros(f[cols.from]) {
        Ok(v) => v,
        Err(e) => {
            rejects.push(lineno, header[cols.from], f[cols.from], e);
            return None;
        }
    };
    let felt = f[cols.lane].trim();
    let (sc, ln, dir) = if felt == "Totalt" {
        (Scope::Total, None, None)
    } else if let Some(place) = felt.strip_prefix("Totalt i retning ") {
        (Scope::Direction, None, Some(place.trim()))
    } else if let Ok(n) = felt.parse::<i16>() {
        (Scope::Lane, Some(n), None)
    } else {
        rejects.push(
            lineno,
            header[cols.lane],
            felt,
            "expected a lane number, 'Totalt i retning <place>' or 'Totalt'",
        );
        return None;
    };
    let vol = match int(f[cols.volume]) {
        Ok(Some(v)) if v < 0 => {
            rejects.push(
                lineno,
                header[cols.volume],
                f[cols.volume],
                "expected a volume of 0 or more",
            );
            return None;
        }
        Ok(v) => v,
        Err(e) => {
            rejects.push(lineno, header[cols.volume], f[cols.volume], e);
            return None;
        }
    };
    let pct = percentages(f, header, cols, lineno, rejects)?;
    let classes = class_volumes(f, header, cols, lineno, rejects)?;
    Some(Row {
        id,
        at,
        scope: sc,
        lane: ln,
        direction: dir,
        volume: vol,
        pct,
        classes,
    })
}

/// Coverage and length quality (% from 0 to 100, where the file has them), or the reject of
/// the first bad one and `None`.
#[inline]
fn percentages(
    f: &[&str],
    header: &[&str],
    cols: &Columns,
    lineno: u64,
    rejects: &mut Rejects,
) -> Option<[Option<f64>; 2]> {
    let mut pct = [None, None];
    for (k, c) in [cols.cov, cols.lq].into_iter().enumerate() {
        if let Some(c) = c {
            match decimal(f[c]) {
                Ok(Some(v)) if !(0.0..=100.0).contains(&v) => {
                    rejects.push(
                        lineno,
                        header[c],
                        f[c],
                        "expected a percentage from 0 to 100",
                    );
                    return None;
                }
                Ok(v) => pct[k] = v,
                Err(e) => {
                    rejects.push(lineno, header[c], f[c], e);
                    return None;
                }
            }
        }
    }
    Some(pct)
}

/// The volumes of the length classes the file has, or the reject of the first bad one and
/// `None`.
#[inline]
fn class_volumes(
    f: &[&str],
    header: &[&str],
    cols: &Columns,
    lineno: u64,
    rejects: &mut Rejects,
) -> Option<[Option<i64>; 8]> {
    let mut cls = [None; 8];
    for (k, c) in cols.classes.iter().enumerate() {
        if let Some(c) = *c {
            match int(f[c]) {
                Ok(v) => cls[k] = v,
                Err(e) => {
                    rejects.push(lineno, header[c], f[c], e);
                    return None;
                }
            }
        }
    }
    Some(cls)
}

/// Records the point of a row, named by that row's `Navn` and `Vegreferanse` the first time
/// it is seen. Rows come point by point: the map is looked up only when the id changes.
#[inline]
fn see_point(
    points: &mut BTreeMap<String, PointSeen>,
    last_point: &mut String,
    id: &str,
    f: &[&str],
    cols: &Columns,
) {
    if id != last_point.as_str() {
        if !points.contains_key(id) {
            points.insert(
                id.to_string(),
                PointSeen {
                    name: cols
                        .name
                        .map(|c| f[c].trim().to_string())
                        .unwrap_or_default(),
                    road_reference: cols
                        .road
                        .map(|c| f[c].trim().to_string())
                        .unwrap_or_default(),
                },
            );
        }
        last_point.clear();
        last_point.push_str(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::decode;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;

    const HEADER: &str = "Trafikkregistreringspunkt;Navn;Vegreferanse;Fra;Til;Dato;Fra tidspunkt;Til tidspunkt;Felt;Trafikkmengde;Dekningsgrad (%);Antall timer total;Antall timer inkludert;Antall timer ugyldig;Ikke gyldig lengde;Lengdekvalitetsgrad (%);< 5,6m;>= 5,6m;5,6m - 7,6m;7,6m - 12,5m;12,5m - 16,0m;>= 16,0m;16,0m - 24,0m;>= 24,0m";
    const ROW: &str = "00492V443603;Oslo grense;FV160 S1D1 m191;2024-05-01T00:00+02:00;2024-05-01T01:00+02:00;2024-05-01;00:00;01:00;Totalt;110;100,0;1;1;0;0;100,00;104;6;1;2;3;0;0;0";

    fn parse_text(text: &str) -> Result<Parsed> {
        parse(&decode("t.csv", text.as_bytes()).unwrap())
    }

    #[test]
    fn reads_lanes_directions_totals_and_missing() {
        let text = format!(
            "{HEADER}\n{}\n{}\n{ROW}\n{}\n",
            ROW.replace("Totalt;110", "1;46"),
            ROW.replace("Totalt;110", "Totalt i retning OSLO;64"),
            ROW.replace("Totalt;110;100,0", "Totalt;-;0,0")
                .replace("T00:00", "T01:00")
        );
        let p = parse_text(&text).unwrap();
        assert_eq!(p.rows_read, 4);
        assert!(p.rejects.rows.is_empty(), "{:?}", p.rejects.rows);
        let b = &p.batch;
        let scope = b.column_by_name("scope").unwrap().as_string::<i32>();
        assert_eq!(
            scope.iter().flatten().collect::<Vec<_>>(),
            ["lane", "direction", "total", "total"]
        );
        let vol = b
            .column_by_name("volume")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(vol.value(2), 110);
        assert!(vol.is_null(3), "'-' stays NULL, never 0");
        assert_eq!(
            b.column_by_name("direction")
                .unwrap()
                .as_string::<i32>()
                .value(1),
            "OSLO"
        );
        assert_eq!(p.points["00492V443603"].road_reference, "FV160 S1D1 m191");
    }

    #[test]
    fn accepts_the_older_headers() {
        let old = HEADER
            .replace("Trafikkmengde", "Volum")
            .replace("Lengdekvalitetsgrad", "Lengdedekningsgrad");
        let p = parse_text(&format!("{old}\n{ROW}\n")).unwrap();
        assert_eq!(p.batch.num_rows(), 1);
        assert!(
            !p.batch
                .column_by_name("length_quality_pct")
                .unwrap()
                .is_null(0)
        );
    }

    #[test]
    fn wrong_delimiter_names_file_and_line() {
        let err = parse_text(&format!(
            "{}\n{}\n",
            HEADER.replace(';', ","),
            ROW.replace(';', ",")
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv, line 1: expected ';'-separated columns as in the trafikkdata.no export (the header is separated by ',')"
        );
    }

    #[test]
    fn missing_column_is_named() {
        let err = parse_text(&format!("{}\n", HEADER.replace("Felt;", "")))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.csv, line 1: missing column 'Felt'"),
            "{err}"
        );
    }

    #[test]
    fn bad_rows_are_rejected_with_line_column_value() {
        let text = format!(
            "{HEADER}\n{}\n{}\n{}\n{}",
            ROW.replace(";110;", ";11O;"),
            ROW.replace("Totalt", "Begge"),
            ROW.replace("100,0;1;1", "140,0;1;1"),
            &ROW[..60]
        );
        let p = parse_text(&text).unwrap();
        assert_eq!(p.rows_read, 4);
        assert_eq!(p.batch.num_rows(), 0);
        let r: Vec<String> = p.rejects.rows.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            r[0],
            "t.csv, line 2, column 'Trafikkmengde': value '11O': expected a whole number or '-' for missing"
        );
        assert!(
            r[1].contains("line 3, column 'Felt': value 'Begge'"),
            "{}",
            r[1]
        );
        assert!(
            r[2].contains("column 'Dekningsgrad (%)': value '140,0': expected a percentage"),
            "{}",
            r[2]
        );
        assert!(
            r[3].contains("line 5") && r[3].contains("truncated line: 4 fields, expected 24"),
            "{}",
            r[3]
        );
    }

    /// The byte-level splitters give what `str::lines`/`split_inclusive` and `split(';')` give.
    #[test]
    fn lines_and_fields_split_as_the_std_ones() {
        for text in [
            "",
            "a;b\n",
            "a;b",
            "a;b\r\nc;;d\n\n;\r\n",
            "Bærum;Østerås;\nlast;ø",
            "\n\n",
            "x\r",
            "a;b\r\r\nc\r\r",
        ] {
            let std_lines: Vec<&str> = text
                .split_inclusive('\n')
                .map(|l| l.trim_end_matches(['\n', '\r']))
                .collect();
            assert_eq!(lines_of(text).collect::<Vec<_>>(), std_lines, "{text:?}");
            for line in std_lines {
                let mut got = Vec::new();
                split_fields(line, &mut got);
                assert_eq!(got, line.split(';').collect::<Vec<_>>(), "{line:?}");
            }
        }
    }

    #[test]
    fn road_categories() {
        assert_eq!(road_category("FV160 S1D1 m191").as_deref(), Some("F"));
        assert_eq!(road_category("EV18 S60D1 m4030").as_deref(), Some("E"));
        assert_eq!(road_category("KV1234"), Some("K".into()));
        assert_eq!(road_category("xyz"), None);
    }
}
