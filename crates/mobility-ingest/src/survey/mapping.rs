//! Survey mapping files (TOML): which column of which file is which column of the data model,
//! how codes map onto the canonical code lists, and the formats of dates, times and coordinates.
//! A new survey format needs a new mapping file, not new code. The shipped ones are
//! `data/mappings/canonical.toml` and `data/mappings/rvu.toml`; `docs/survey-mapping.md`
//! documents every key.

use std::collections::BTreeMap;
use std::path::Path;

use mobility_geo::Crs;
use mobility_model::{Mode, Purpose};
use serde::Deserialize;

use crate::{Error, Result};

const CANONICAL: &str = include_str!("../../../../data/mappings/canonical.toml");
const RVU: &str = include_str!("../../../../data/mappings/rvu.toml");

/// The mappings built into the binary, by name.
pub const BUILT_IN: &[(&str, &str)] = &[("canonical", CANONICAL), ("rvu", RVU)];

/// A survey mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Short name.
    pub name: String,
    /// What survey this reads.
    #[serde(default)]
    pub description: String,
    /// CSV and value formats.
    #[serde(default)]
    pub format: Format,
    /// File name patterns of the three files.
    pub files: Files,
    /// Whether ids in the files are whole numbers (`integer`) or any text (`text`, numbered in
    /// order of first appearance).
    #[serde(default)]
    pub ids: IdKind,
    /// Household columns; without a households file, households are derived from persons.
    #[serde(default)]
    pub households: HouseholdColumns,
    /// Person columns.
    pub persons: PersonColumns,
    /// Trip columns.
    pub trips: TripColumns,
    /// Code lists: source code → canonical value, per coded column.
    #[serde(default)]
    pub codes: Codes,
}

/// CSV and value formats.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Format {
    /// `;`, `,` or `\t`; absent: sniffed from the header line.
    pub delimiter: Option<String>,
    /// Values that mean missing.
    pub missing: Vec<String>,
    /// CRS of all coordinate columns.
    pub crs: String,
    /// Format of `travel_date` (chrono `strftime`).
    pub date_format: String,
    /// Format of `depart_at`/`arrive_at` when they hold date and time.
    pub datetime_format: String,
    /// When set, `depart_at`/`arrive_at` hold a time of day in this format, on the person's
    /// `travel_date`; an arrival before the departure is on the next day.
    pub time_format: Option<String>,
    /// Multiplier from the distance column's unit to km (0.001 for metres).
    pub distance_scale: f64,
}

impl Default for Format {
    fn default() -> Self {
        Self {
            delimiter: None,
            missing: vec![String::new(), "NA".into(), "-".into()],
            crs: "EPSG:4326".into(),
            date_format: "%Y-%m-%d".into(),
            datetime_format: "%Y-%m-%d %H:%M:%S".into(),
            time_format: None,
            distance_scale: 1.0,
        }
    }
}

/// File name patterns (`*` matches any text; case does not matter).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Files {
    /// The households file, if the survey has one.
    pub households: Option<String>,
    /// The persons file.
    pub persons: String,
    /// The trips file.
    pub trips: String,
    /// A tours file (tour-based surveys): recognised and not read, so that it is never taken
    /// for another file.
    pub tours: Option<String>,
}

/// How ids are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// Whole numbers, kept as they are.
    #[default]
    Integer,
    /// Any text, numbered 1, 2, … in order of first appearance.
    Text,
}

/// Household columns.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdColumns {
    pub household_id: Option<Source>,
    pub home_x: Option<Source>,
    pub home_y: Option<Source>,
    pub home_zone_id: Option<Source>,
    pub size: Option<Source>,
    pub cars: Option<Source>,
    pub weight: Option<Source>,
}

/// Person columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonColumns {
    pub person_id: String,
    /// Absent: each person is their own household (as in RVU, one respondent per household).
    pub household_id: Option<Source>,
    pub age: Option<Source>,
    pub gender: Option<Source>,
    pub employment: Option<Source>,
    pub has_license: Option<Source>,
    pub weight: Source,
    pub stratum: Option<Source>,
    pub travel_date: Option<Source>,
    /// Household columns found in the person file (RVU has no household file).
    pub household_size: Option<Source>,
    pub household_cars: Option<Source>,
    pub home_zone_id: Option<Source>,
}

/// Trip columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripColumns {
    /// Absent: trips are numbered 1, 2, … in file order.
    pub trip_id: Option<Source>,
    pub person_id: String,
    /// Absent: the order of the person's trips in the file.
    pub trip_no: Option<Source>,
    /// The tour the trip belongs to (tour-based surveys); absent: NULL.
    pub tour_id: Option<Source>,
    pub depart_at: Option<Source>,
    pub arrive_at: Option<Source>,
    pub purpose: Option<Source>,
    pub mode: Option<Source>,
    pub distance_km: Option<Source>,
    pub origin_x: Option<Source>,
    pub origin_y: Option<Source>,
    pub dest_x: Option<Source>,
    pub dest_y: Option<Source>,
    pub origin_zone_id: Option<Source>,
    pub dest_zone_id: Option<Source>,
}

/// Where a data-model column comes from: a source column by name, or a constant for every
/// row (`weight = { value = 1.0 }`, for a survey without weights).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Source {
    /// The source column of this name.
    Column(String),
    /// The same value in every row.
    Value {
        /// The value (a number, text or boolean).
        value: toml::Value,
    },
}

impl Source {
    /// The constant as the text a column would hold, if this is a constant.
    pub fn constant(&self) -> Option<String> {
        match self {
            Source::Column(_) => None,
            Source::Value { value } => Some(match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        }
    }
}

/// Code lists. An absent list means the column holds canonical values already.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Codes {
    #[serde(default)]
    pub mode: BTreeMap<String, String>,
    #[serde(default)]
    pub purpose: BTreeMap<String, String>,
    #[serde(default)]
    pub gender: BTreeMap<String, String>,
    #[serde(default)]
    pub employment: BTreeMap<String, String>,
    #[serde(default)]
    pub has_license: BTreeMap<String, bool>,
}

impl Mapping {
    /// A built-in mapping by name, or a mapping file by path.
    pub fn load(name_or_path: &str) -> Result<Self> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(name_or_path, text);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            return Err(Error::Mapping {
                file: name_or_path.into(),
                message: format!(
                    "no such file, and not a built-in mapping ({})",
                    names.join(", ")
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(name_or_path, &text)
    }

    /// Parses and checks a mapping.
    pub fn parse(file: &str, text: &str) -> Result<Self> {
        let err = |message: String| Error::Mapping {
            file: file.into(),
            message,
        };
        let m: Mapping = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for (code, target) in &m.codes.mode {
            target
                .parse::<Mode>()
                .map_err(|e| err(format!("[codes.mode] \"{code}\" = \"{target}\": {e}")))?;
        }
        for (code, target) in &m.codes.purpose {
            target
                .parse::<Purpose>()
                .map_err(|e| err(format!("[codes.purpose] \"{code}\" = \"{target}\": {e}")))?;
        }
        m.crs().map_err(|e| err(format!("format.crs: {e}")))?;
        if let Some(d) = &m.format.delimiter {
            if m.delimiter().is_none() {
                return Err(err(format!(
                    "format.delimiter '{d}': expected ';', ',' or '\\t'"
                )));
            }
        }
        Ok(m)
    }

    /// The CRS of coordinate columns.
    pub fn crs(&self) -> std::result::Result<Crs, mobility_geo::Error> {
        self.format.crs.parse()
    }

    /// The delimiter byte, if fixed.
    pub fn delimiter(&self) -> Option<u8> {
        match self.format.delimiter.as_deref() {
            Some(";") => Some(b';'),
            Some(",") => Some(b','),
            Some("\t") | Some("\\t") | Some("tab") => Some(b'\t'),
            _ => None,
        }
    }

    /// Whether a value means missing.
    pub fn is_missing(&self, v: &str) -> bool {
        self.format.missing.iter().any(|m| m == v.trim())
    }
}

/// Whether a file name matches a pattern with `*` wildcards, ignoring case.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.to_lowercase(), name.to_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == n;
    }
    let mut rest = n.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(pos) = rest.find(part) else {
                return false;
            };
            rest = &rest[pos + part.len()..];
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_mappings_load() {
        for (name, _) in BUILT_IN {
            Mapping::load(name).unwrap();
        }
    }

    #[test]
    fn bad_code_target_is_named() {
        let text = "name = \"x\"\n[files]\npersons = \"p.csv\"\ntrips = \"t.csv\"\n[persons]\nperson_id = \"id\"\nweight = \"w\"\n[trips]\nperson_id = \"id\"\n[codes.mode]\n\"1\" = \"car\"\n";
        let err = Mapping::parse("x.toml", text).unwrap_err().to_string();
        assert!(
            err.contains("[codes.mode] \"1\" = \"car\": 'car' is not a valid mode"),
            "{err}"
        );
    }

    #[test]
    fn wildcards() {
        assert!(matches("trips*.csv", "Trips_2018.CSV"));
        assert!(matches("*reisefil*", "RVU 2019_2024 Reisefil 251107.csv"));
        assert!(!matches("persons.csv", "persons2.csv"));
    }
}
