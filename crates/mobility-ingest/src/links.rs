//! Statens vegvesen's traffic links with their ÅDT (trafikkdata.no, "trafikklenker"): one row
//! per direction of a link, with its length, road category, municipality and the best ÅDT
//! source of the year (`bestDataSourceAadt`: ÅDT, year, measured or derived, source, heavy
//! share, standard error, traffic work). Read from the API's field names, flattened with `_`
//! as R and pandas write them to CSV (`bestDataSourceAadt_trafficVolumeValue`), or from the
//! API's JSON (nested objects, arrays of municipality ids) into `road_links`.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int16Builder, RecordBatch, StringBuilder};
use mobility_model::Table;
use serde_json::Value;

use crate::csvtext::CsvText;
use crate::parse::{decimal, int};
use crate::rejects::Rejects;
use crate::source::TextFile;
use crate::{Error, Result};

/// One parsed file.
pub struct Parsed {
    /// Its links.
    pub batch: RecordBatch,
    /// The input line of each row (the position in a JSON list).
    pub lines: Vec<u64>,
    /// Links read.
    pub rows_read: u64,
    /// Links refused.
    pub rejects: Rejects,
}

/// The source field of each `road_links` column (flattened API names).
const FIELDS: [(&str, &str); 16] = [
    ("link_id", "id"),
    ("year", "yearAppliesTo"),
    ("municipality_id", "municipalityIds"),
    ("county_id", "countyIds"),
    ("road_category", "roadCategory"),
    ("road_reference", "roadSystemReferences"),
    ("length_m", "length"),
    ("aadt", "bestDataSourceAadt_trafficVolumeValue"),
    ("aadt_year", "bestDataSourceAadt_year"),
    ("aadt_type", "bestDataSourceAadt_trafficVolumeType"),
    ("aadt_source", "bestDataSourceAadt_sourceType"),
    (
        "registration_frequency",
        "bestDataSourceAadt_registrationFrequency",
    ),
    ("aadt_coverage", "bestDataSourceAadt_coverage"),
    ("heavy_share", "bestDataSourceAadt_heavyRatio"),
    ("aadt_se", "bestDataSourceAadt_correctedStandardError"),
    ("traffic_work_vkm", "bestDataSourceAadt_trafficWorkValue"),
];

/// Columns without which a file is not a traffic-link file.
const REQUIRED: [&str; 3] = ["id", "yearAppliesTo", "length"];

/// One link as text fields, in the order of [`FIELDS`] (missing: empty).
type Fields = [String; 16];

struct Builder {
    text: Vec<StringBuilder>,
    year: Int16Builder,
    aadt_year: Int16Builder,
    num: Vec<Float64Builder>,
    lines: Vec<u64>,
}

/// Columns by kind: text, numbers (the two years apart).
const TEXT: [usize; 7] = [0, 2, 3, 4, 5, 9, 10];
const TEXT2: usize = 11;
const NUM: [usize; 6] = [6, 7, 12, 13, 14, 15];

impl Builder {
    fn new() -> Self {
        Self {
            text: (0..8).map(|_| StringBuilder::new()).collect(),
            year: Int16Builder::new(),
            aadt_year: Int16Builder::new(),
            num: (0..6).map(|_| Float64Builder::new()).collect(),
            lines: Vec::new(),
        }
    }

    /// Checks and adds one link; `Err((column, value, reason))` refuses it, `notes` gets what
    /// was changed in a link kept.
    fn push(
        &mut self,
        f: &Fields,
        line: u64,
        notes: &mut Vec<(String, String, String)>,
    ) -> Result<(), (String, String, String)> {
        let bad = |i: usize, why: &str| (FIELDS[i].1.to_string(), f[i].clone(), why.to_string());
        if f[0].trim().is_empty() {
            return Err(bad(0, "a traffic link needs its id"));
        }
        let year = |i: usize| -> Result<Option<i16>, (String, String, String)> {
            match int(&f[i]) {
                Ok(Some(y)) if (1900..=2200).contains(&y) => Ok(Some(y as i16)),
                Ok(None) => Ok(None),
                _ => Err(bad(i, "expected a year such as 2024")),
            }
        };
        let (y, ay) = (year(1)?, year(8)?);
        let Some(y) = y else {
            return Err(bad(1, "the year the link applies to is missing"));
        };
        // A negative ÅDT (the real 2024 file has one, with a negative traffic work) cannot be
        // a count: the link is kept, for its length, without an ÅDT, its SE or traffic work,
        // and the note says so.
        let negative = decimal(&f[7]).ok().flatten().is_some_and(|v| v < 0.0);
        if negative {
            notes.push((
                FIELDS[7].1.to_string(),
                f[7].clone(),
                "a negative ÅDT cannot be a count: the link is kept without an ÅDT, its SE and traffic work"
                    .to_string(),
            ));
        }
        let mut nums = [None; 6];
        for (k, &i) in NUM.iter().enumerate() {
            if negative && matches!(i, 7 | 14 | 15) {
                continue;
            }
            let v = decimal(&f[i]).map_err(|e| bad(i, &e.to_string()))?;
            let ok = match (i, v) {
                (_, None) => true,
                // A length in metres, an ÅDT, an SE and traffic work: ≥ 0; shares 0–1.
                (12 | 13, Some(v)) => (0.0..=1.0).contains(&v),
                (_, Some(v)) => v >= 0.0 && v.is_finite(),
            };
            if !ok {
                return Err(bad(
                    i,
                    if matches!(i, 12 | 13) {
                        "expected a share from 0 to 1"
                    } else {
                        "expected a number of 0 or more"
                    },
                ));
            }
            nums[k] = v;
        }
        if nums[0].is_none() {
            return Err(bad(6, "the link's length (m) is missing"));
        }
        for (b, &i) in self.text.iter_mut().zip(TEXT.iter().chain([&TEXT2])) {
            let v = f[i].trim();
            b.append_option((!v.is_empty()).then_some(v));
        }
        self.year.append_value(y);
        self.aadt_year.append_option(ay);
        for (b, v) in self.num.iter_mut().zip(nums) {
            b.append_option(v);
        }
        self.lines.push(line);
        Ok(())
    }

    fn finish(mut self) -> Result<(RecordBatch, Vec<u64>)> {
        let mut t: Vec<ArrayRef> = self
            .text
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let mut n: Vec<ArrayRef> = self
            .num
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        // In schema order: link_id, year, municipality_id, county_id, road_category,
        // road_reference, length_m, aadt, aadt_year, aadt_type, aadt_source,
        // registration_frequency, aadt_coverage, heavy_share, aadt_se, traffic_work_vkm.
        let cols: Vec<ArrayRef> = vec![
            t.remove(0),
            Arc::new(self.year.finish()),
            t.remove(0),
            t.remove(0),
            t.remove(0),
            t.remove(0),
            n.remove(0),
            n.remove(0),
            Arc::new(self.aadt_year.finish()),
            t.remove(0),
            t.remove(0),
            t.remove(0),
            n.remove(0),
            n.remove(0),
            n.remove(0),
            n.remove(0),
        ];
        Ok((
            RecordBatch::try_new(Table::RoadLinks.schema(), cols)?,
            self.lines,
        ))
    }
}

/// A list as the data gives it: `[301, 3201]`, `301,3201` or `301` → `301` or `301,3201`.
fn list_text(v: &str) -> String {
    v.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a traffic-link file: CSV with the API's flattened names, or the API's JSON.
pub fn parse(file: &TextFile) -> Result<Parsed> {
    if file.text.trim_start().starts_with(['{', '[']) {
        parse_json(file)
    } else {
        parse_csv(file)
    }
}

fn parse_csv(file: &TextFile) -> Result<Parsed> {
    let mut csv = CsvText::new(&file.name, &file.text, None)?;
    for r in REQUIRED {
        csv.column(r)?;
    }
    let cols: Vec<Option<usize>> = FIELDS.iter().map(|(_, src)| csv.find(src)).collect();
    let mut b = Builder::new();
    let mut rejects = Rejects::new(&file.name);
    let mut read = 0;
    for row in csv.rows() {
        let row = row?;
        read += 1;
        let mut f: Fields = Default::default();
        for (i, c) in cols.iter().enumerate() {
            let v = c.and_then(|c| row.fields.get(c)).unwrap_or("").trim();
            f[i] = if matches!(i, 2 | 3 | 5) {
                list_text(v)
            } else {
                v.to_string()
            };
        }
        let mut notes = Vec::new();
        match b.push(&f, row.line, &mut notes) {
            Ok(()) => {
                for (c, v, why) in notes {
                    rejects.note(row.line, &c, &v, why);
                }
            }
            Err((c, v, why)) => rejects.push(row.line, &c, &v, why),
        }
    }
    let (batch, lines) = b.finish()?;
    Ok(Parsed {
        batch,
        lines,
        rows_read: read,
        rejects,
    })
}

/// The links of an API answer: a list of link objects, or one inside GraphQL's wrappers
/// (`data` → `trafficLinks` → `items` / `edges[].node`).
fn link_list(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Array(a) => {
            // A list of edges: their nodes.
            Some(a.iter().map(|x| x.get("node").unwrap_or(x)).collect())
        }
        Value::Object(o) => {
            if o.contains_key("id") && o.contains_key("length") {
                return Some(vec![v]);
            }
            for key in ["data", "trafficLinks", "items", "edges", "nodes"] {
                if let Some(inner) = o.get(key).and_then(link_list) {
                    return Some(inner);
                }
            }
            None
        }
        _ => None,
    }
}

/// A JSON value flattened into `prefix_key` text fields.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}_{k}")
                };
                flatten(&name, x, out);
            }
        }
        Value::Array(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    Value::Object(o) => o
                        .get("number")
                        .or_else(|| o.get("id"))
                        .or_else(|| o.get("shortForm"))
                        .map(|v| v.to_string().trim_matches('"').to_string())
                        .unwrap_or_else(|| x.to_string()),
                    other => other.to_string(),
                })
                .collect();
            out.push((prefix.to_string(), items.join(",")));
        }
        Value::Null => out.push((prefix.to_string(), String::new())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

fn parse_json(file: &TextFile) -> Result<Parsed> {
    let v: Value = serde_json::from_str(&file.text)
        .map_err(|e| Error::format(&file.name, e.line() as u64, format!("not valid JSON: {e}")))?;
    let Some(links) = link_list(&v) else {
        return Err(Error::format(
            &file.name,
            1,
            "no traffic links: expected a list of links with id and length, or the API's data.trafficLinks",
        ));
    };
    let mut b = Builder::new();
    let mut rejects = Rejects::new(&file.name);
    for (i, link) in links.iter().enumerate() {
        let mut flat = Vec::new();
        flatten("", link, &mut flat);
        let mut f: Fields = Default::default();
        for (k, (_, src)) in FIELDS.iter().enumerate() {
            if let Some((_, v)) = flat.iter().find(|(n, _)| n == src) {
                f[k] = if matches!(k, 2 | 3 | 5) {
                    list_text(v)
                } else {
                    v.clone()
                };
            }
        }
        // Position in the list, from 1, stands for the line.
        let mut notes = Vec::new();
        match b.push(&f, i as u64 + 1, &mut notes) {
            Ok(()) => {
                for (c, v, why) in notes {
                    rejects.note(i as u64 + 1, &c, &v, why);
                }
            }
            Err((c, v, why)) => rejects.push(i as u64 + 1, &c, &v, why),
        }
    }
    let (batch, lines) = b.finish()?;
    Ok(Parsed {
        batch,
        lines,
        rows_read: links.len() as u64,
        rejects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Float64Type;

    fn file(text: &str) -> TextFile {
        crate::source::decode("links.csv", text.as_bytes()).unwrap()
    }

    #[test]
    fn csv_and_json_give_the_same_link() {
        let csv = "id,yearAppliesTo,municipalityIds,countyIds,roadSystemReferences,roadCategory,length,bestDataSourceAadt_trafficVolumeValue,bestDataSourceAadt_year,bestDataSourceAadt_trafficVolumeType,bestDataSourceAadt_heavyRatio,bestDataSourceAadt_correctedStandardError,bestDataSourceAadt_trafficWorkValue\n\
                   a-WITH,2024,3201,32,FV160 S1D1 m10-20,FYLKESVEG,1000.5,5000,2024,MEASURED,0.1,120,1831000\n\
                   b-WITH,2024,301,3,KV1 S1D1,KOMMUNAL_VEG,200,,,,,,\n\
                   c-WITH,2024,301,3,KV2,KOMMUNAL_VEG,-5,,,,,,\n";
        let json = r#"{"data":{"trafficLinks":{"items":[
            {"id":"a-WITH","yearAppliesTo":2024,"municipalityIds":[3201],"countyIds":[32],"roadSystemReferences":["FV160 S1D1 m10-20"],"roadCategory":"FYLKESVEG","length":1000.5,
             "bestDataSourceAadt":{"trafficVolumeValue":5000,"year":2024,"trafficVolumeType":"MEASURED","heavyRatio":0.1,"correctedStandardError":120,"trafficWorkValue":1831000}},
            {"id":"b-WITH","yearAppliesTo":2024,"municipalityIds":[301],"countyIds":[3],"roadSystemReferences":["KV1 S1D1"],"roadCategory":"KOMMUNAL_VEG","length":200,"bestDataSourceAadt":null},
            {"id":"c-WITH","yearAppliesTo":2024,"municipalityIds":[301],"countyIds":[3],"roadSystemReferences":["KV2"],"roadCategory":"KOMMUNAL_VEG","length":-5}]}}}"#;
        let a = parse(&file(csv)).unwrap();
        let b = parse(&file(json)).unwrap();
        assert_eq!(a.batch, b.batch);
        assert_eq!(a.batch.num_rows(), 2);
        assert_eq!((a.rows_read, a.rejects.rows.len()), (3, 1));
        let r = &a.rejects.rows[0];
        assert_eq!(
            (r.line, r.column.as_str(), r.value.as_str()),
            (4, "length", "-5")
        );
        let aadt = a
            .batch
            .column_by_name("aadt")
            .unwrap()
            .as_primitive::<Float64Type>();
        assert_eq!((aadt.value(0), aadt.is_null(1)), (5000.0, true));
        assert_eq!(list_text("[301, 3201]"), "301,3201");
    }
}
