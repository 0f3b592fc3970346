//! Reads a survey's files through its mapping into the `households`, `persons` and `trips`
//! columns. Rows that break a rule become rejects; so do trips whose person was rejected, and
//! persons whose household was, so that every table stays consistent with the others.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int16Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use mobility_model::{Mode, Purpose, Table};

use super::mapping::{IdKind, Mapping, Source, matches};
use crate::csvtext::{CsvText, Row};
use crate::parse::{decimal, int};
use crate::rejects::Rejects;
use crate::source::{TextFile, read_text};
use crate::{Error, FileReport, Result};

/// A survey read into the data model's columns.
#[derive(Debug, Default)]
pub struct Survey {
    pub households: Households,
    pub persons: Persons,
    pub trips: Trips,
    /// Per input file: rows read, written, rejected.
    pub reports: Vec<FileReport>,
    /// Rejects per input file, in the order of `reports`.
    pub rejects: Vec<Rejects>,
}

/// `households` columns.
#[derive(Debug, Default)]
pub struct Households {
    pub household_id: Vec<i64>,
    pub home_lon: Vec<Option<f64>>,
    pub home_lat: Vec<Option<f64>>,
    pub home_zone_id: Vec<Option<String>>,
    pub size: Vec<Option<i16>>,
    pub cars: Vec<Option<i16>>,
    pub weight: Vec<Option<f64>>,
    lines: Vec<u64>,
}

/// `persons` columns.
#[derive(Debug, Default)]
pub struct Persons {
    pub person_id: Vec<i64>,
    pub household_id: Vec<i64>,
    pub age: Vec<Option<i16>>,
    pub gender: Vec<Option<String>>,
    pub employment: Vec<Option<String>>,
    pub has_license: Vec<Option<bool>>,
    pub weight: Vec<f64>,
    pub stratum: Vec<Option<String>>,
    pub travel_date: Vec<Option<i32>>,
    lines: Vec<u64>,
}

/// `trips` columns.
#[derive(Debug, Default)]
pub struct Trips {
    pub trip_id: Vec<i64>,
    pub person_id: Vec<i64>,
    pub trip_no: Vec<Option<i16>>,
    pub tour_id: Vec<Option<i64>>,
    pub depart_at: Vec<Option<i64>>,
    pub arrive_at: Vec<Option<i64>>,
    pub purpose: Vec<Option<&'static str>>,
    pub mode: Vec<Option<&'static str>>,
    pub distance_km: Vec<Option<f64>>,
    pub origin_lon: Vec<Option<f64>>,
    pub origin_lat: Vec<Option<f64>>,
    pub dest_lon: Vec<Option<f64>>,
    pub dest_lat: Vec<Option<f64>>,
    pub origin_zone_id: Vec<Option<String>>,
    pub dest_zone_id: Vec<Option<String>>,
    lines: Vec<u64>,
}

/// Numbers text ids 1, 2, … in order of first appearance (for `ids = "text"`).
#[derive(Default)]
struct IdMap {
    ids: HashMap<String, i64>,
}

impl IdMap {
    fn get_or_insert(&mut self, key: &str) -> i64 {
        let next = self.ids.len() as i64 + 1;
        *self.ids.entry(key.to_string()).or_insert(next)
    }
    fn get(&self, key: &str) -> Option<i64> {
        self.ids.get(key).copied()
    }
}

/// Positions at and above this are the mapping's constants (`{ value = … }`), not columns.
const CONSTANT: usize = usize::MAX / 2;

/// The mapping's column names resolved to positions, and its constants.
struct Cols<'a> {
    csv: &'a CsvText,
    /// (data-model column, value) of each constant, at position `CONSTANT + i`.
    consts: Vec<(String, String)>,
}

impl<'a> Cols<'a> {
    fn new(csv: &'a CsvText) -> Self {
        Self {
            csv,
            consts: Vec::new(),
        }
    }
    /// The position of `key`'s source: a column of the file, or a constant.
    fn pos(&mut self, key: &str, src: &Option<Source>) -> Result<Option<usize>> {
        match src {
            None => Ok(None),
            Some(Source::Column(n)) => self.csv.column(n).map(Some),
            Some(s @ Source::Value { .. }) => {
                let v = s.constant().expect("a value");
                self.consts.push((format!("{key} (constant)"), v));
                Ok(Some(CONSTANT + self.consts.len() - 1))
            }
        }
    }
}

/// Errors of one field: (column, value, reason).
type FieldErr = (String, String, String);

struct Field<'a> {
    m: &'a Mapping,
    row: &'a Row,
    header: &'a [String],
    consts: &'a [(String, String)],
}

impl Field<'_> {
    fn raw(&self, c: Option<usize>) -> Option<&str> {
        let c = c?;
        let v = match c.checked_sub(CONSTANT) {
            Some(k) => self.consts[k].1.as_str(),
            None => self.row.fields.get(c)?.trim(),
        };
        (!self.m.is_missing(v)).then_some(v)
    }
    fn err(&self, c: usize, v: &str, reason: impl Into<String>) -> FieldErr {
        let name = match c.checked_sub(CONSTANT) {
            Some(k) => self.consts[k].0.clone(),
            None => self.header[c].clone(),
        };
        (name, v.to_string(), reason.into())
    }
    fn int(&self, c: Option<usize>, lo: i64, hi: i64) -> Result<Option<i64>, FieldErr> {
        let Some(v) = self.raw(c) else {
            return Ok(None);
        };
        let c = c.expect("raw is Some only with a column");
        match int(v) {
            Ok(Some(x)) if (lo..=hi).contains(&x) => Ok(Some(x)),
            Ok(_) => Err(self.err(c, v, format!("expected a whole number from {lo} to {hi}"))),
            Err(e) => Err(self.err(c, v, e)),
        }
    }
    fn num(&self, c: Option<usize>, lo: f64) -> Result<Option<f64>, FieldErr> {
        let Some(v) = self.raw(c) else {
            return Ok(None);
        };
        let c = c.expect("raw is Some only with a column");
        match decimal(v) {
            Ok(Some(x)) if x >= lo => Ok(Some(x)),
            Ok(_) => Err(self.err(c, v, format!("expected a number of {lo} or more"))),
            Err(e) => Err(self.err(c, v, e)),
        }
    }
    fn coord(
        &self,
        cx: Option<usize>,
        cy: Option<usize>,
    ) -> Result<(Option<f64>, Option<f64>), FieldErr> {
        let (x, y) = (
            self.num(cx, f64::NEG_INFINITY)?,
            self.num(cy, f64::NEG_INFINITY)?,
        );
        match (x, y) {
            (Some(x), Some(y)) => {
                let crs = self.m.crs().expect("checked when the mapping was loaded");
                let (lon, lat) = crs.to_lon_lat(x, y);
                if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                    let c = cx.expect("x present");
                    return Err(self.err(
                        c,
                        &format!("{x}, {y}"),
                        format!("expected coordinates in {crs}"),
                    ));
                }
                Ok((Some(lon), Some(lat)))
            }
            (None, None) => Ok((None, None)),
            _ => {
                let c = cx.or(cy).expect("one present");
                Err(self.err(
                    c,
                    self.raw(cx).or(self.raw(cy)).unwrap_or(""),
                    "expected both coordinates or neither",
                ))
            }
        }
    }
    fn text(&self, c: Option<usize>) -> Option<String> {
        self.raw(c).map(str::to_string)
    }
    fn code(
        &self,
        c: Option<usize>,
        map: &std::collections::BTreeMap<String, String>,
        what: &str,
    ) -> Result<Option<String>, FieldErr> {
        let Some(v) = self.raw(c) else {
            return Ok(None);
        };
        if map.is_empty() {
            return Ok(Some(v.to_lowercase()));
        }
        map.get(v).cloned().map(Some).ok_or_else(|| {
            self.err(
                c.expect("raw"),
                v,
                format!(
                    "expected a {what} code of mapping '{}': {}",
                    self.m.name,
                    code_list(map.keys())
                ),
            )
        })
    }
    fn id(&self, c: usize, ids: &mut IdMap, insert: bool) -> Result<i64, FieldErr> {
        let v = self
            .raw(Some(c))
            .ok_or_else(|| self.err(c, "", "expected an id"))?;
        match self.m.ids {
            IdKind::Integer => int(v).ok().flatten().ok_or_else(|| {
                self.err(
                    c,
                    v,
                    "expected a whole-number id (set ids = \"text\" in the mapping for other ids)",
                )
            }),
            IdKind::Text if insert => Ok(ids.get_or_insert(v)),
            IdKind::Text => ids
                .get(v)
                .ok_or_else(|| self.err(c, v, "no row with this id")),
        }
    }
}

/// The codes of a list for a message, numbers in numeric order.
fn code_list<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let mut k: Vec<&String> = keys.collect();
    k.sort_by_key(|s| (s.parse::<i64>().unwrap_or(i64::MAX), (*s).clone()));
    k.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// Finds the mapping's files among `inputs` (files and folders) and reads them.
pub fn read(mapping: &Mapping, inputs: &[PathBuf]) -> Result<Survey> {
    let mut files = crate::source::expand(inputs)?;
    // A tours file is recognised and left out: never taken for another role.
    if let Some(tours) = &mapping.files.tours {
        files.retain(|p| {
            !p.file_name()
                .is_some_and(|n| matches(tours, &n.to_string_lossy()))
        });
    }
    let pick = |role: &str, pattern: &str| -> Result<Option<PathBuf>> {
        let hits: Vec<&PathBuf> = files
            .iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| matches(pattern, &n.to_string_lossy()))
            })
            .collect();
        match hits.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one).clone())),
            many => Err(Error::Mapping {
                file: mapping.name.clone(),
                message: format!(
                    "{role} pattern '{pattern}' matches {} files ({}); give one",
                    many.len(),
                    many.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    };
    let missing = |role: &str, pattern: &str| Error::Mapping {
        file: mapping.name.clone(),
        message: format!(
            "no {role} file matching '{pattern}' among: {}",
            files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let hh_path = match &mapping.files.households {
        Some(p) => pick("households", p)?,
        None => None,
    };
    let p_path = pick("persons", &mapping.files.persons)?
        .ok_or_else(|| missing("persons", &mapping.files.persons))?;
    let t_path = pick("trips", &mapping.files.trips)?
        .ok_or_else(|| missing("trips", &mapping.files.trips))?;
    let load = |p: &PathBuf| -> Result<TextFile> {
        let mut v = read_text(p, &[".csv", ".txt"])?;
        if v.len() != 1 {
            return Err(Error::format(
                &p.display().to_string(),
                None,
                "expected one CSV file, found an archive with several",
            ));
        }
        Ok(v.remove(0))
    };
    let mut survey = Survey::default();
    let mut hh_ids = IdMap::default();
    let mut person_ids = IdMap::default();
    let mut trip_ids = IdMap::default();
    let mut hh_known: Option<HashSet<i64>> = None;
    if let Some(p) = &hh_path {
        let f = load(p)?;
        let (read, rej) = read_households(mapping, &f, &mut hh_ids, &mut survey.households)?;
        hh_known = Some(survey.households.household_id.iter().copied().collect());
        survey.reports.push(FileReport::new(
            &f,
            Table::Households,
            read,
            survey.households.household_id.len() as u64,
            rej.rows.len() as u64,
        ));
        survey.rejects.push(rej);
    }
    let pf = load(&p_path)?;
    let (read, rej) = read_persons(
        mapping,
        &pf,
        &mut hh_ids,
        &mut person_ids,
        hh_known.as_ref(),
        &mut survey,
    )?;
    survey.reports.push(FileReport::new(
        &pf,
        Table::Persons,
        read,
        survey.persons.person_id.len() as u64,
        rej.rows.len() as u64,
    ));
    survey.rejects.push(rej);
    let tf = load(&t_path)?;
    let (read, rej) = read_trips(mapping, &tf, &mut person_ids, &mut trip_ids, &mut survey)?;
    survey.reports.push(FileReport::new(
        &tf,
        Table::Trips,
        read,
        survey.trips.trip_id.len() as u64,
        rej.rows.len() as u64,
    ));
    survey.rejects.push(rej);
    Ok(survey)
}

fn read_households(
    m: &Mapping,
    f: &TextFile,
    ids: &mut IdMap,
    out: &mut Households,
) -> Result<(u64, Rejects)> {
    let mut csv = CsvText::new(&f.name, &f.text, m.delimiter())?;
    let h = &m.households;
    let mut cols = Cols::new(&csv);
    let c_id = cols
        .pos("household_id", &h.household_id)?
        .ok_or_else(|| Error::Mapping {
            file: m.name.clone(),
            message: "[households] needs household_id when a households file is given".into(),
        })?;
    let (cx, cy, cz, cs, cc, cw) = (
        cols.pos("home_x", &h.home_x)?,
        cols.pos("home_y", &h.home_y)?,
        cols.pos("home_zone_id", &h.home_zone_id)?,
        cols.pos("size", &h.size)?,
        cols.pos("cars", &h.cars)?,
        cols.pos("weight", &h.weight)?,
    );
    let header = csv.header.clone();
    let consts = std::mem::take(&mut cols.consts);
    let mut rejects = Rejects::new(&f.name);
    let mut read = 0;
    let mut seen = HashMap::new();
    for row in csv.rows() {
        let row = row?;
        read += 1;
        let fld = Field {
            m,
            row: &row,
            header: &header,
            consts: &consts,
        };
        let r = (|| {
            let id = fld.id(c_id, ids, true)?;
            if let Some(first) = seen.get(&id) {
                return Err(fld.err(
                    c_id,
                    fld.raw(Some(c_id)).unwrap_or(""),
                    format!("duplicate household id, first on line {first}"),
                ));
            }
            let (lon, lat) = fld.coord(cx, cy)?;
            Ok((
                id,
                lon,
                lat,
                fld.text(cz),
                fld.int(cs, 1, 100)?,
                fld.int(cc, 0, 100)?,
                fld.num(cw, 0.0)?,
            ))
        })();
        match r {
            Ok((id, lon, lat, z, s, c, w)) => {
                seen.insert(id, row.line);
                out.household_id.push(id);
                out.home_lon.push(lon);
                out.home_lat.push(lat);
                out.home_zone_id.push(z);
                out.size.push(s.map(|v| v as i16));
                out.cars.push(c.map(|v| v as i16));
                out.weight.push(w);
                out.lines.push(row.line);
            }
            Err((c, v, why)) => rejects.push(row.line, &c, &v, why),
        }
    }
    Ok((read, rejects))
}

fn parse_date(v: &str, fmt: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(v, fmt)
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(v, &format!("{fmt} %H:%M:%S"))
                .ok()
                .map(|d| d.date())
        })
        .or_else(|| {
            NaiveDateTime::parse_from_str(v, &format!("{fmt}T%H:%M:%S"))
                .ok()
                .map(|d| d.date())
        })
}

/// The positions of the mapping's `[persons]` columns (`CONSTANT` and above: constants).
struct PersonCols {
    id: usize,
    weight: usize,
    household: Option<usize>,
    age: Option<usize>,
    gender: Option<usize>,
    employment: Option<usize>,
    license: Option<usize>,
    stratum: Option<usize>,
    date: Option<usize>,
    hh_size: Option<usize>,
    hh_cars: Option<usize>,
    home_zone: Option<usize>,
}

impl PersonCols {
    /// Resolves the mapping's `[persons]` columns in `csv`, with the constants they name.
    fn locate(m: &Mapping, csv: &CsvText) -> Result<(Self, Vec<(String, String)>)> {
        let p = &m.persons;
        let mut cols = Cols::new(csv);
        let c_id = csv.column(&p.person_id)?;
        let c_w = cols
            .pos("weight", &Some(p.weight.clone()))?
            .expect("weight is required");
        let (c_hh, c_age, c_g, c_e, c_l, c_s, c_d) = (
            cols.pos("household_id", &p.household_id)?,
            cols.pos("age", &p.age)?,
            cols.pos("gender", &p.gender)?,
            cols.pos("employment", &p.employment)?,
            cols.pos("has_license", &p.has_license)?,
            cols.pos("stratum", &p.stratum)?,
            cols.pos("travel_date", &p.travel_date)?,
        );
        let (c_hs, c_hc, c_hz) = (
            cols.pos("household_size", &p.household_size)?,
            cols.pos("household_cars", &p.household_cars)?,
            cols.pos("home_zone_id", &p.home_zone_id)?,
        );
        let c = Self {
            id: c_id,
            weight: c_w,
            household: c_hh,
            age: c_age,
            gender: c_g,
            employment: c_e,
            license: c_l,
            stratum: c_s,
            date: c_d,
            hh_size: c_hs,
            hh_cars: c_hc,
            home_zone: c_hz,
        };
        Ok((c, cols.consts))
    }
}

/// One persons row, checked, with the household columns it may carry.
struct PersonRow {
    id: i64,
    hh: i64,
    age: Option<i64>,
    gender: Option<String>,
    employment: Option<String>,
    license: Option<bool>,
    weight: f64,
    stratum: Option<String>,
    date: Option<NaiveDate>,
    hh_size: Option<i64>,
    hh_cars: Option<i64>,
    home_zone: Option<String>,
}

fn read_persons(
    m: &Mapping,
    f: &TextFile,
    hh_ids: &mut IdMap,
    ids: &mut IdMap,
    hh_known: Option<&HashSet<i64>>,
    s: &mut Survey,
) -> Result<(u64, Rejects)> {
    let mut csv = CsvText::new(&f.name, &f.text, m.delimiter())?;
    let (cols, consts) = PersonCols::locate(m, &csv)?;
    let header = csv.header.clone();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let mut rejects = Rejects::new(&f.name);
    let mut read = 0;
    let mut seen: HashMap<i64, u64> = HashMap::new();
    let derive_households = hh_known.is_none();
    let mut derived: HashMap<i64, usize> = HashMap::new();
    for row in csv.rows() {
        let row = row?;
        read += 1;
        let fld = Field {
            m,
            row: &row,
            header: &header,
            consts: &consts,
        };
        match check_person(&fld, &cols, hh_ids, ids, &seen, hh_known) {
            Ok(p) => {
                seen.insert(p.id, row.line);
                push_person(s, p, row.line, epoch, derive_households, &mut derived);
            }
            Err((c, v, why)) => rejects.push(row.line, &c, &v, why),
        }
    }
    Ok((read, rejects))
}

/// Reads one persons row into typed values, or gives its first bad field. Its household must
/// be in `hh_known` when a households file was read; otherwise household ids are numbered here.
fn check_person(
    fld: &Field<'_>,
    c: &PersonCols,
    hh_ids: &mut IdMap,
    ids: &mut IdMap,
    seen: &HashMap<i64, u64>,
    hh_known: Option<&HashSet<i64>>,
) -> Result<PersonRow, FieldErr> {
    let m = fld.m;
    let id = fld.id(c.id, ids, true)?;
    if let Some(first) = seen.get(&id) {
        return Err(fld.err(
            c.id,
            fld.raw(Some(c.id)).unwrap_or(""),
            format!("duplicate person id, first on line {first}"),
        ));
    }
    let hh = match c.household {
        Some(col) => fld.id(col, hh_ids, hh_known.is_none())?,
        None => id,
    };
    if let Some(known) = hh_known {
        if !known.contains(&hh) {
            let col = c
                .household
                .expect("households file implies a household column");
            return Err(fld.err(
                col,
                fld.raw(Some(col)).unwrap_or(""),
                "no household with this id in the households file (or it was rejected)",
            ));
        }
    }
    let w = fld.num(Some(c.weight), 0.0)?.ok_or_else(|| {
        fld.err(
            c.weight,
            "",
            "expected a weight: persons.weight may not be missing",
        )
    })?;
    let license = license_of(fld, c.license)?;
    let date = date_of(fld, c.date)?;
    Ok(PersonRow {
        id,
        hh,
        age: fld.int(c.age, 0, 120)?,
        gender: fld.code(c.gender, &m.codes.gender, "gender")?,
        employment: fld.code(c.employment, &m.codes.employment, "employment")?,
        license,
        weight: w,
        stratum: fld.text(c.stratum),
        date,
        hh_size: fld.int(c.hh_size, 1, 100)?,
        hh_cars: fld.int(c.hh_cars, 0, 100)?,
        home_zone: fld.text(c.home_zone),
    })
}

/// The `has_license` field: a code of the mapping's list, or without a list, true or false
/// (`1`/`0`, `yes`/`no`, `ja`/`nei`, ...).
fn license_of(fld: &Field<'_>, c_l: Option<usize>) -> Result<Option<bool>, FieldErr> {
    let m = fld.m;
    let license = match fld.raw(c_l) {
        None => None,
        Some(v) if m.codes.has_license.is_empty() => match v.to_lowercase().as_str() {
            "true" | "1" | "yes" | "ja" | "t" => Some(true),
            "false" | "0" | "no" | "nei" | "f" => Some(false),
            _ => return Err(fld.err(c_l.expect("raw"), v, "expected true or false")),
        },
        Some(v) => Some(*m.codes.has_license.get(v).ok_or_else(|| {
            fld.err(
                c_l.expect("raw"),
                v,
                format!(
                    "expected a has_license code of mapping '{}': {}",
                    m.name,
                    code_list(m.codes.has_license.keys())
                ),
            )
        })?),
    };
    Ok(license)
}

/// The `travel_date` field, in the mapping's date format.
fn date_of(fld: &Field<'_>, c_d: Option<usize>) -> Result<Option<NaiveDate>, FieldErr> {
    let m = fld.m;
    let date = match fld.raw(c_d) {
        None => None,
        Some(v) => Some(parse_date(v, &m.format.date_format).ok_or_else(|| {
            fld.err(
                c_d.expect("raw"),
                v,
                format!("expected a date in the format {}", m.format.date_format),
            )
        })?),
    };
    Ok(date)
}

/// Appends a checked person, and when households are derived from persons (no households
/// file), its household the first time it is met.
fn push_person(
    s: &mut Survey,
    p: PersonRow,
    line: u64,
    epoch: NaiveDate,
    derive_households: bool,
    derived: &mut HashMap<i64, usize>,
) {
    let ps = &mut s.persons;
    ps.person_id.push(p.id);
    ps.household_id.push(p.hh);
    ps.age.push(p.age.map(|v| v as i16));
    ps.gender.push(p.gender);
    ps.employment.push(p.employment);
    ps.has_license.push(p.license);
    ps.weight.push(p.weight);
    ps.stratum.push(p.stratum);
    ps.travel_date
        .push(p.date.map(|d| (d - epoch).num_days() as i32));
    ps.lines.push(line);
    if derive_households && !derived.contains_key(&p.hh) {
        let hs = &mut s.households;
        derived.insert(p.hh, hs.household_id.len());
        hs.household_id.push(p.hh);
        hs.home_lon.push(None);
        hs.home_lat.push(None);
        hs.home_zone_id.push(p.home_zone);
        hs.size.push(p.hh_size.map(|v| v as i16));
        hs.cars.push(p.hh_cars.map(|v| v as i16));
        hs.weight.push(None);
        hs.lines.push(line);
    }
}

/// The positions of the mapping's `[trips]` columns (`CONSTANT` and above: constants).
struct TripCols {
    person: usize,
    id: Option<usize>,
    no: Option<usize>,
    dep: Option<usize>,
    arr: Option<usize>,
    purpose: Option<usize>,
    mode: Option<usize>,
    dist: Option<usize>,
    ox: Option<usize>,
    oy: Option<usize>,
    dx: Option<usize>,
    dy: Option<usize>,
    oz: Option<usize>,
    dz: Option<usize>,
    tour: Option<usize>,
}

impl TripCols {
    /// Resolves the mapping's `[trips]` columns in `csv`, with the constants they name.
    fn locate(m: &Mapping, csv: &CsvText) -> Result<(Self, Vec<(String, String)>)> {
        let t = &m.trips;
        let mut cols = Cols::new(csv);
        let c_person = csv.column(&t.person_id)?;
        let (c_id, c_no, c_dep, c_arr, c_pur, c_mode, c_dist) = (
            cols.pos("trip_id", &t.trip_id)?,
            cols.pos("trip_no", &t.trip_no)?,
            cols.pos("depart_at", &t.depart_at)?,
            cols.pos("arrive_at", &t.arrive_at)?,
            cols.pos("purpose", &t.purpose)?,
            cols.pos("mode", &t.mode)?,
            cols.pos("distance_km", &t.distance_km)?,
        );
        let (c_ox, c_oy, c_dx, c_dy, c_oz, c_dz) = (
            cols.pos("origin_x", &t.origin_x)?,
            cols.pos("origin_y", &t.origin_y)?,
            cols.pos("dest_x", &t.dest_x)?,
            cols.pos("dest_y", &t.dest_y)?,
            cols.pos("origin_zone_id", &t.origin_zone_id)?,
            cols.pos("dest_zone_id", &t.dest_zone_id)?,
        );
        let c_tour = cols.pos("tour_id", &t.tour_id)?;
        let c = Self {
            person: c_person,
            id: c_id,
            no: c_no,
            dep: c_dep,
            arr: c_arr,
            purpose: c_pur,
            mode: c_mode,
            dist: c_dist,
            ox: c_ox,
            oy: c_oy,
            dx: c_dx,
            dy: c_dy,
            oz: c_oz,
            dz: c_dz,
            tour: c_tour,
        };
        Ok((c, cols.consts))
    }
}

/// What every trips row is read against: the columns, the persons read and the epoch.
struct TripContext {
    cols: TripCols,
    /// The travel date of each person kept.
    persons: HashMap<i64, Option<i32>>,
    epoch: NaiveDate,
}

/// One trips row, checked (its zone ids apart).
struct TripRow {
    person: i64,
    id: i64,
    no: Option<i64>,
    tour: Option<i64>,
    dep: Option<i64>,
    arr: Option<i64>,
    purpose: Option<&'static str>,
    mode: Option<&'static str>,
    dist: Option<f64>,
    olon: Option<f64>,
    olat: Option<f64>,
    dlon: Option<f64>,
    dlat: Option<f64>,
}

impl Trips {
    /// Appends a checked trip, the `nth` of its person, with its zone ids, read from `line`.
    fn push_row(
        &mut self,
        t: TripRow,
        nth: i16,
        origin_zone: Option<String>,
        dest_zone: Option<String>,
        line: u64,
    ) {
        self.trip_id.push(t.id);
        self.person_id.push(t.person);
        self.trip_no
            .push(Some(t.no.map(|v| v as i16).unwrap_or(nth)));
        self.tour_id.push(t.tour);
        self.depart_at.push(t.dep);
        self.arrive_at.push(t.arr);
        self.purpose.push(t.purpose);
        self.mode.push(t.mode);
        self.distance_km.push(t.dist);
        self.origin_lon.push(t.olon);
        self.origin_lat.push(t.olat);
        self.dest_lon.push(t.dlon);
        self.dest_lat.push(t.dlat);
        self.origin_zone_id.push(origin_zone);
        self.dest_zone_id.push(dest_zone);
        self.lines.push(line);
    }
}

fn read_trips(
    m: &Mapping,
    f: &TextFile,
    person_ids: &mut IdMap,
    ids: &mut IdMap,
    s: &mut Survey,
) -> Result<(u64, Rejects)> {
    let mut csv = CsvText::new(&f.name, &f.text, m.delimiter())?;
    let (cols, consts) = TripCols::locate(m, &csv)?;
    let header = csv.header.clone();
    let persons: HashMap<i64, Option<i32>> = s
        .persons
        .person_id
        .iter()
        .copied()
        .zip(s.persons.travel_date.iter().copied())
        .collect();
    let mut rejects = Rejects::new(&f.name);
    let mut read = 0;
    let mut seen: HashMap<i64, u64> = HashMap::new();
    let mut per_person: HashMap<i64, i16> = HashMap::new();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let ctx = TripContext {
        cols,
        persons,
        epoch,
    };
    for row in csv.rows() {
        let row = row?;
        read += 1;
        let fld = Field {
            m,
            row: &row,
            header: &header,
            consts: &consts,
        };
        match check_trip(&fld, &ctx, person_ids, ids, &seen, read) {
            Ok(t) => {
                seen.insert(t.id, row.line);
                let n = per_person.entry(t.person).or_insert(0);
                *n += 1;
                let (oz, dz) = (fld.text(ctx.cols.oz), fld.text(ctx.cols.dz));
                s.trips.push_row(t, *n, oz, dz, row.line);
            }
            Err((c, v, why)) => rejects.push(row.line, &c, &v, why),
        }
    }
    Ok((read, rejects))
}

/// Reads one trips row into typed values, or gives its first bad field. Its person must have
/// been kept; without a trip id column the trip's id is its number among the rows (`read`).
fn check_trip(
    fld: &Field<'_>,
    ctx: &TripContext,
    person_ids: &mut IdMap,
    ids: &mut IdMap,
    seen: &HashMap<i64, u64>,
    read: u64,
) -> Result<TripRow, FieldErr> {
    let (m, c) = (fld.m, &ctx.cols);
    let person = fld.id(c.person, person_ids, false)?;
    let Some(travel_date) = ctx.persons.get(&person) else {
        return Err(fld.err(
            c.person,
            fld.raw(Some(c.person)).unwrap_or(""),
            "no person with this id in the persons file (or it was rejected)",
        ));
    };
    let id = match c.id {
        Some(col) => fld.id(col, ids, true)?,
        None => read as i64,
    };
    if let Some(first) = seen.get(&id) {
        let col = c.id.expect("generated ids are unique");
        return Err(fld.err(
            col,
            fld.raw(Some(col)).unwrap_or(""),
            format!("duplicate trip id, first on line {first}"),
        ));
    }
    let (dep, arr) = trip_times(fld, c, travel_date, ctx.epoch)?;
    let mode = fld
        .code(c.mode, &m.codes.mode, "mode")?
        .map(|v| {
            v.parse::<Mode>()
                .map(Mode::as_str)
                .map_err(|e| fld.err(c.mode.expect("raw"), &v, e.to_string()))
        })
        .transpose()?;
    let purpose = fld
        .code(c.purpose, &m.codes.purpose, "purpose")?
        .map(|v| {
            v.parse::<Purpose>()
                .map(Purpose::as_str)
                .map_err(|e| fld.err(c.purpose.expect("raw"), &v, e.to_string()))
        })
        .transpose()?;
    let dist = fld.num(c.dist, 0.0)?.map(|d| d * m.format.distance_scale);
    let (olon, olat) = fld.coord(c.ox, c.oy)?;
    let (dlon, dlat) = fld.coord(c.dx, c.dy)?;
    let no = fld.int(c.no, 1, i16::MAX as i64)?;
    let tour = fld.int(c.tour, i64::MIN, i64::MAX)?;
    Ok(TripRow {
        person,
        id,
        no,
        tour,
        dep,
        arr,
        purpose,
        mode,
        dist,
        olon,
        olat,
        dlon,
        dlat,
    })
}

/// Departure and arrival (µs since the epoch, UTC). With times of day, an arrival before the
/// departure is on the next day; with dates and times it is an error.
fn trip_times(
    fld: &Field<'_>,
    c: &TripCols,
    travel_date: &Option<i32>,
    epoch: NaiveDate,
) -> Result<(Option<i64>, Option<i64>), FieldErr> {
    let m = fld.m;
    let dep = trip_time(fld, c.dep, travel_date, epoch)?;
    let mut arr = trip_time(fld, c.arr, travel_date, epoch)?;
    if let (Some(d), Some(a)) = (dep, arr) {
        if a < d {
            if m.format.time_format.is_some() {
                arr = Some(a + 86_400_000_000);
            } else {
                let col = c.arr.expect("arrival present");
                return Err(fld.err(
                    col,
                    fld.raw(Some(col)).unwrap_or(""),
                    "expected an arrival at or after the departure",
                ));
            }
        }
    }
    Ok((dep, arr))
}

/// A departure or arrival field (µs since the epoch, UTC): a date and time, or with the
/// mapping's `time_format` a time of day (or `decimal_hours`) on the person's travel date.
fn trip_time(
    fld: &Field<'_>,
    c: Option<usize>,
    travel_date: &Option<i32>,
    epoch: NaiveDate,
) -> Result<Option<i64>, FieldErr> {
    let m = fld.m;
    let Some(v) = fld.raw(c) else { return Ok(None) };
    let c = c.expect("raw");
    let dt = if let Some(tf) = &m.format.time_format {
        // Without a travel_date column the times stand on a nominal day (the
        // epoch), and the day type is unknown.
        let day = match (travel_date, &m.persons.travel_date) {
            (Some(d), _) => epoch + chrono::TimeDelta::days(i64::from(*d)),
            (None, None) => epoch,
            (None, Some(_)) => {
                return Err(fld.err(
                    c,
                    v,
                    "a time of day needs the person's travel_date, which is missing",
                ));
            }
        };
        if tf == "decimal_hours" {
            let h = decimal(v)
                .ok()
                .flatten()
                .filter(|h| (0.0..48.0).contains(h));
            let h = h.ok_or_else(|| {
                fld.err(
                    c,
                    v,
                    "expected hours of the travel day as a number from 0 to 48 (7.5 = 07:30)",
                )
            })?;
            day.and_time(NaiveTime::MIN) + chrono::Duration::seconds((h * 3600.0).round() as i64)
        } else {
            let tod = NaiveTime::parse_from_str(v, tf)
                .map_err(|_| fld.err(c, v, format!("expected a time of day in the format {tf}")))?;
            day.and_time(tod)
        }
    } else {
        let df = &m.format.datetime_format;
        NaiveDateTime::parse_from_str(v, df)
            .or_else(|_| NaiveDateTime::parse_from_str(v, &df.replace(' ', "T")))
            .map_err(|_| fld.err(c, v, format!("expected a date and time in the format {df}")))?
    };
    Ok(Some(dt.and_utc().timestamp_micros()))
}

/// Fills missing zone ids from coordinates with `locate` (a zone index look-up, in parallel).
pub fn fill_zones(
    lon: &[Option<f64>],
    lat: &[Option<f64>],
    zone: &mut [Option<String>],
    index: &mobility_geo::ZoneIndex,
) {
    let todo: Vec<usize> = (0..zone.len())
        .filter(|&i| zone[i].is_none() && lon[i].is_some() && lat[i].is_some())
        .collect();
    let pts: Vec<(f64, f64)> = todo
        .iter()
        .map(|&i| (lon[i].expect("filtered"), lat[i].expect("filtered")))
        .collect();
    for (i, z) in todo.into_iter().zip(index.locate_all(&pts)) {
        zone[i] = z.map(|z| index.zone(z).id.clone());
    }
}

impl Survey {
    /// Whether some home or trip end has coordinates but no zone id: only those need zones.
    pub fn needs_zones(&self) -> bool {
        let open = |lon: &[Option<f64>], zone: &[Option<String>]| {
            lon.iter()
                .zip(zone)
                .any(|(x, z)| x.is_some() && z.is_none())
        };
        let (h, t) = (&self.households, &self.trips);
        open(&h.home_lon, &h.home_zone_id)
            || open(&t.origin_lon, &t.origin_zone_id)
            || open(&t.dest_lon, &t.dest_zone_id)
    }

    /// Fills home, origin and destination zones from coordinates where the files gave none.
    pub fn fill_zones(&mut self, index: &mobility_geo::ZoneIndex) {
        let h = &mut self.households;
        fill_zones(&h.home_lon, &h.home_lat, &mut h.home_zone_id, index);
        let t = &mut self.trips;
        fill_zones(&t.origin_lon, &t.origin_lat, &mut t.origin_zone_id, index);
        fill_zones(&t.dest_lon, &t.dest_lat, &mut t.dest_zone_id, index);
    }

    /// The three tables as batches, with the input line of each row.
    pub fn batches(self) -> Result<[(Table, RecordBatch, Vec<u64>); 3]> {
        let h = self.households;
        let hb = RecordBatch::try_new(
            Table::Households.schema(),
            vec![
                Arc::new(Int64Array::from(h.household_id)) as ArrayRef,
                Arc::new(Float64Array::from(h.home_lon)),
                Arc::new(Float64Array::from(h.home_lat)),
                Arc::new(StringArray::from(h.home_zone_id)),
                Arc::new(Int16Array::from(h.size)),
                Arc::new(Int16Array::from(h.cars)),
                Arc::new(Float64Array::from(h.weight)),
            ],
        )?;
        let p = self.persons;
        let n_persons = p.person_id.len();
        let pb = RecordBatch::try_new(
            Table::Persons.schema(),
            vec![
                Arc::new(Int64Array::from(p.person_id)) as ArrayRef,
                Arc::new(Int64Array::from(p.household_id)),
                Arc::new(Int16Array::from(p.age)),
                Arc::new(StringArray::from(p.gender)),
                Arc::new(StringArray::from(p.employment)),
                Arc::new(BooleanArray::from(p.has_license)),
                Arc::new(Float64Array::from(p.weight)),
                Arc::new(StringArray::from(p.stratum)),
                Arc::new(Date32Array::from(p.travel_date)),
                arrow::array::new_null_array(&arrow::datatypes::DataType::Float64, n_persons),
            ],
        )?;
        let t = self.trips;
        let tb = RecordBatch::try_new(
            Table::Trips.schema(),
            vec![
                Arc::new(Int64Array::from(t.trip_id)) as ArrayRef,
                Arc::new(Int64Array::from(t.person_id)),
                Arc::new(Int16Array::from(t.trip_no)),
                Arc::new(TimestampMicrosecondArray::from(t.depart_at)),
                Arc::new(TimestampMicrosecondArray::from(t.arrive_at)),
                Arc::new(StringArray::from(t.purpose)),
                Arc::new(StringArray::from(t.mode)),
                Arc::new(Float64Array::from(t.distance_km)),
                Arc::new(Float64Array::from(t.origin_lon)),
                Arc::new(Float64Array::from(t.origin_lat)),
                Arc::new(Float64Array::from(t.dest_lon)),
                Arc::new(Float64Array::from(t.dest_lat)),
                Arc::new(StringArray::from(t.origin_zone_id)),
                Arc::new(StringArray::from(t.dest_zone_id)),
                Arc::new(Int64Array::from(t.tour_id)),
            ],
        )?;
        Ok([
            (Table::Households, hb, h.lines),
            (Table::Persons, pb, p.lines),
            (Table::Trips, tb, t.lines),
        ])
    }
}
