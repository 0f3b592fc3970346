//! Population margins for calibrating survey weights (`mobility weight --margins FILE`), and
//! which category of each margin variable every respondent is in.
//!
//! A margins file is CSV with the header `variable,category,total`, one row per category, as
//! SSB publishes population tables (statistikkbanken: persons by age, sex, region). Variables:
//!
//! | variable | from | category |
//! |---|---|---|
//! | `age_band` | `persons.age` | a band of years: `13-17`, `20–24`, `67+`, or one age `16` |
//! | `age`, `gender`, `employment`, `has_license`, `stratum` | the person's column | its value |
//! | `size`, `cars`, `home_zone_id` | the person's household | its value |
//!
//! Excel's re-saves are read too: `;` as the separator (then `,` may be the decimal mark), a
//! byte-order mark, spaces as thousands separators in totals.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};

/// The variables a margins file may name, and the table each is read from.
pub const VARIABLES: [(&str, &str); 9] = [
    ("age_band", "persons"),
    ("age", "persons"),
    ("gender", "persons"),
    ("employment", "persons"),
    ("has_license", "persons"),
    ("stratum", "persons"),
    ("size", "households"),
    ("cars", "households"),
    ("home_zone_id", "households"),
];

/// One line of a margins file.
#[derive(Debug, Clone, PartialEq)]
pub struct Margin {
    /// The variable.
    pub variable: String,
    /// The category.
    pub category: String,
    /// The population total.
    pub total: f64,
    /// Line in the file (1 = header).
    pub line: usize,
}

/// A margins file that cannot be used, or respondents that do not fit it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct MarginError {
    /// The margins file.
    pub file: String,
    /// Its line, where one is to blame.
    pub line: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl MarginError {
    /// An error of `file`, at `line` where one is to blame.
    fn new(file: &str, line: Option<usize>, message: String) -> Self {
        MarginError {
            file: file.to_string(),
            line,
            message,
        }
    }
}

/// Reads a margins file's text (`file` names it in errors).
pub fn parse(file: &str, text: &str) -> Result<Vec<Margin>, MarginError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let Some((_, header)) = lines.find(|(_, l)| !l.trim().is_empty()) else {
        return Err(MarginError::new(
            file,
            None,
            "is empty; expected the header variable,category,total".into(),
        ));
    };
    let sep = separator(header).map_err(|m| MarginError::new(file, Some(1), m))?;
    let mut out: Vec<Margin> = Vec::new();
    for (line, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        let m = margin(l, sep, line, &out).map_err(|e| MarginError::new(file, Some(line), e))?;
        out.push(m);
    }
    if out.is_empty() {
        return Err(MarginError::new(
            file,
            None,
            "has no margins below its header".into(),
        ));
    }
    Ok(out)
}

/// The field separator of a margins file, `;` or `,`, from its header, which must name the
/// columns variable, category and total.
fn separator(header: &str) -> Result<char, String> {
    let sep = if header.contains(';') { ';' } else { ',' };
    let cols: Vec<String> = header
        .split(sep)
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    if cols != ["variable", "category", "total"] {
        return Err(format!(
            "header is `{header}`; expected variable,category,total"
        ));
    }
    Ok(sep)
}

/// The margin on line `line`, `l`, of a file separated by `sep`; `above` are the margins of
/// the lines above it, none of which may have the same variable and category.
fn margin(l: &str, sep: char, line: usize, above: &[Margin]) -> Result<Margin, String> {
    let f: Vec<&str> = l
        .split(sep)
        .map(|c| c.trim().trim_matches('"').trim())
        .collect();
    if f.len() != 3 {
        return Err(format!(
            "has {} fields; expected 3 (variable,category,total)",
            f.len()
        ));
    }
    let variable = f[0].to_string();
    if !VARIABLES.iter().any(|(v, _)| *v == variable) {
        return Err(format!(
            "column variable: `{variable}` is not a margin variable; expected one of {}",
            VARIABLES.map(|v| v.0).join(", ")
        ));
    }
    let total = parse_total(f[2], sep)?;
    if variable == "age_band" {
        band(f[1]).map_err(|m| format!("column category: {m}"))?;
    }
    if let Some(first) = above
        .iter()
        .find(|m| m.variable == variable && m.category == f[1])
    {
        return Err(format!(
            "{variable} = {} is given twice (also line {})",
            f[1], first.line
        ));
    }
    Ok(Margin {
        variable,
        category: f[1].to_string(),
        total,
        line,
    })
}

/// A population total as written, `field`: spaces (also no-break) between thousands; with
/// `;` between fields (Norwegian Excel) `,` the decimal mark and `.` between thousands.
fn parse_total(field: &str, sep: char) -> Result<f64, String> {
    let mut number: String = field
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .collect();
    if sep == ';' {
        // Norwegian Excel: `,` the decimal mark, `.` a thousands separator (55.000 is
        // 55 000, never 55): taken out only where it groups thousands, refused elsewhere.
        if number.contains('.') {
            let int = number.split(',').next().unwrap_or("");
            let groups: Vec<&str> = int.split('.').collect();
            let thousands = groups[0].len() <= 3
                && !groups[0].is_empty()
                && groups[1..].iter().all(|g| g.len() == 3);
            if !thousands {
                return Err(format!(
                    "column total: `{field}` mixes `.` and `,`; with `;` between fields `,` is the decimal mark and `.` groups thousands (55.000)"
                ));
            }
            number = number.replace('.', "");
        }
        number = number.replace(',', ".");
    }
    match number.parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 => Ok(t),
        _ => Err(format!(
            "column total: `{field}` is not a positive number of persons"
        )),
    }
}

/// An age band's years, inclusive: `13-17`, `13–17`, `67+`, `16`.
fn band(category: &str) -> Result<(i64, i64), String> {
    let c = category.trim().trim_end_matches(" år").trim();
    let bad = || format!("`{category}` is not an age band; expected e.g. 13-17, 67+ or 16");
    if let Some(lo) = c.strip_suffix('+') {
        return Ok((lo.trim().parse().map_err(|_| bad())?, i64::MAX));
    }
    match c.split_once(['-', '–']) {
        Some((a, b)) => {
            let (a, b): (i64, i64) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if a > b {
                return Err(bad());
            }
            Ok((a, b))
        }
        None => {
            let a = c.parse().map_err(|_| bad())?;
            Ok((a, a))
        }
    }
}

/// The margins grouped by variable, in the file's order, with each respondent's category.
#[derive(Debug, Clone, PartialEq)]
pub struct Categorised {
    /// The variables.
    pub variables: Vec<String>,
    /// Per variable, its margins.
    pub margins: Vec<Vec<Margin>>,
    /// Per variable, each person's category (index into `margins[v]`), in `person_id` order.
    pub of_person: Vec<Vec<u32>>,
    /// The persons, in the order of `of_person`.
    pub person_id: Vec<i64>,
}

impl Categorised {
    /// Per variable, its number of categories.
    pub fn sizes(&self) -> Vec<usize> {
        self.margins.iter().map(Vec::len).collect()
    }

    /// The totals of the columns of a design whose (variable, category) columns are
    /// `column_of` (`u32::MAX`: no column).
    pub fn column_totals(&self, column_of: &[Vec<u32>], columns: usize) -> Vec<f64> {
        let mut t = vec![0.0; columns];
        for (m, cols) in self.margins.iter().zip(column_of) {
            for (m, &col) in m.iter().zip(cols) {
                if col != u32::MAX {
                    t[col as usize] = m.total;
                }
            }
        }
        t
    }

    /// max |Σ w − T| / T over every margin, with weights `w` in `person_id` order.
    pub fn max_error(&self, w: &[f64]) -> f64 {
        let mut worst: f64 = 0.0;
        for (group, cats) in self.margins.iter().zip(&self.of_person) {
            let mut sums = vec![0.0; group.len()];
            for (&c, w) in cats.iter().zip(w) {
                sums[c as usize] += w;
            }
            for (m, s) in group.iter().zip(sums) {
                worst = worst.max((s - m.total).abs() / m.total);
            }
        }
        worst
    }
}

/// Each respondent's category of every margin variable, from the `persons` and `households`
/// tables. Fails naming the first respondent without a category, a category no respondent
/// has, and margins that add up to different populations.
pub fn categorise(
    file: &str,
    margins: &[Margin],
    persons: &[RecordBatch],
    households: &[RecordBatch],
) -> Result<Categorised, MarginError> {
    let (variables, grouped) = by_variable(margins);
    same_population(file, &variables, &grouped)?;
    let person_id = int_column(persons, "person_id");
    let mut of_person = Vec::new();
    for (v, group) in variables.iter().zip(&grouped) {
        let values = values_of(v, persons, households);
        let categories = Categories::of(file, v, group)?;
        of_person.push(assign(file, v, group, &categories, &values, &person_id)?);
    }
    Ok(Categorised {
        variables,
        margins: grouped,
        of_person,
        person_id,
    })
}

/// The margins grouped by variable: the variables in the order the file first names them,
/// and each one's margins in the file's order.
fn by_variable(margins: &[Margin]) -> (Vec<String>, Vec<Vec<Margin>>) {
    let mut variables: Vec<String> = Vec::new();
    let mut grouped: Vec<Vec<Margin>> = Vec::new();
    for m in margins {
        match variables.iter().position(|v| *v == m.variable) {
            Some(i) => grouped[i].push(m.clone()),
            None => {
                variables.push(m.variable.clone());
                grouped.push(vec![m.clone()]);
            }
        }
    }
    (variables, grouped)
}

/// Checks that every variable's margins add up to the same population (to a part in a
/// million: totals are counts), naming the first that does not.
fn same_population(
    file: &str,
    variables: &[String],
    grouped: &[Vec<Margin>],
) -> Result<(), MarginError> {
    let pops: Vec<f64> = grouped
        .iter()
        .map(|g| g.iter().map(|m| m.total).sum())
        .collect();
    if let Some(i) = (1..pops.len()).find(|&i| (pops[i] - pops[0]).abs() > 1e-6 * pops[0]) {
        return Err(MarginError::new(
            file,
            Some(grouped[i][0].line),
            format!(
                "the margins of {} add up to {}, those of {} to {}: every variable must add up to the same population",
                variables[0], pops[0], variables[i], pops[i]
            ),
        ));
    }
    Ok(())
}

/// How a respondent's raw value finds its category of one variable.
enum Categories<'a> {
    /// `age_band`: the band holding the age, by the bands' years.
    Bands(Vec<(i64, i64)>),
    /// Any other variable: the category written as the value.
    Exact(HashMap<&'a str, u32>),
}

impl<'a> Categories<'a> {
    /// The categories of `variable`'s margins `group`; fails on age bands that overlap.
    fn of(file: &str, variable: &str, group: &'a [Margin]) -> Result<Self, MarginError> {
        if variable != "age_band" {
            return Ok(Categories::Exact(
                group
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (m.category.as_str(), i as u32))
                    .collect(),
            ));
        }
        let bands: Vec<(i64, i64)> = group
            .iter()
            .map(|m| band(&m.category).expect("checked in parse"))
            .collect();
        if let Some((a, b)) = overlap(&bands) {
            return Err(MarginError::new(
                file,
                Some(group[b].line),
                format!(
                    "age band {} overlaps {} (line {})",
                    group[b].category, group[a].category, group[a].line
                ),
            ));
        }
        Ok(Categories::Bands(bands))
    }

    /// The category (index into the margins) of a raw value, if one takes it.
    fn category(&self, value: &str) -> Option<u32> {
        match self {
            Categories::Bands(bands) => value
                .parse::<i64>()
                .ok()
                .and_then(|age| bands.iter().position(|&(lo, hi)| (lo..=hi).contains(&age)))
                .map(|c| c as u32),
            Categories::Exact(index) => index.get(value).copied(),
        }
    }
}

/// Each person's category of `variable` (`values`: the raw values, in `person_id` order).
/// Fails naming the first person whose value no category takes, and a category nobody has.
fn assign(
    file: &str,
    variable: &str,
    group: &[Margin],
    categories: &Categories<'_>,
    values: &[Option<String>],
    person_id: &[i64],
) -> Result<Vec<u32>, MarginError> {
    let mut cats = Vec::with_capacity(values.len());
    let mut seen = vec![false; group.len()];
    for (i, value) in values.iter().enumerate() {
        let Some(c) = value.as_deref().and_then(|x| categories.category(x)) else {
            let missing = values
                .iter()
                .filter(|x| {
                    x.as_deref()
                        .is_none_or(|x| categories.category(x).is_none())
                })
                .count();
            let source = if variable == "age_band" {
                "age"
            } else {
                variable
            };
            return Err(MarginError::new(
                file,
                None,
                format!(
                    "person {} has {source} {}, which no category of {variable} takes ({missing} respondents in all); \
                     calibrate on variables every respondent has, or add the category",
                    person_id[i],
                    value
                        .as_deref()
                        .map_or("NULL".to_string(), |x| format!("`{x}`")),
                ),
            ));
        };
        seen[c as usize] = true;
        cats.push(c);
    }
    if let Some(empty) = seen.iter().position(|s| !s) {
        return Err(MarginError::new(
            file,
            Some(group[empty].line),
            format!(
                "no respondent has {variable} = {}: a category without respondents cannot be calibrated; \
                 merge it with a neighbouring one",
                group[empty].category
            ),
        ));
    }
    Ok(cats)
}

/// The first pair of overlapping bands.
fn overlap(bands: &[(i64, i64)]) -> Option<(usize, usize)> {
    for b in 0..bands.len() {
        for a in 0..b {
            if bands[a].0 <= bands[b].1 && bands[b].0 <= bands[a].1 {
                return Some((a, b));
            }
        }
    }
    None
}

fn int_column(batches: &[RecordBatch], name: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(name).expect("model schema");
        let c = arrow::compute::cast(c, &DataType::Int64).expect("ids cast to Int64");
        out.extend(c.as_primitive::<Int64Type>().values().iter().copied());
    }
    out
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(name).expect("model schema");
        let c = arrow::compute::cast(c, &DataType::Utf8).expect("any column casts to text");
        let c = c.as_string::<i32>();
        out.extend((0..c.len()).map(|i| c.is_valid(i).then(|| c.value(i).to_string())));
    }
    out
}

/// The raw values of a margin variable, one per person.
fn values_of(
    variable: &str,
    persons: &[RecordBatch],
    households: &[RecordBatch],
) -> Vec<Option<String>> {
    match variable {
        "age_band" => strings(persons, "age"),
        "size" | "cars" | "home_zone_id" => {
            let hid = int_column(households, "household_id");
            let hv = strings(households, variable);
            let by: HashMap<i64, Option<String>> = hid.into_iter().zip(hv).collect();
            int_column(persons, "household_id")
                .iter()
                .map(|h| by.get(h).cloned().flatten())
                .collect()
        }
        v => strings(persons, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_excel_resaves() {
        let m = parse(
            "m.csv",
            "\u{feff}Variable;Category;Total\r\nage_band;13–17;1 234,5\r\ngender;female;617,25\r\n",
        )
        .unwrap();
        assert_eq!(m[0].total, 1234.5);
        let m = parse(
            "m.csv",
            "variable;category;total\ngender;female;55.000\ngender;male;1.234.567,5\n",
        )
        .unwrap();
        assert_eq!((m[0].total, m[1].total), (55_000.0, 1_234_567.5));
        assert!(parse("m.csv", "variable;category;total\ngender;female;55.5\n").is_err());
        assert_eq!(m[1].line, 3);
        assert_eq!(band("13–17"), Ok((13, 17)));
        assert_eq!(band("67+"), Ok((67, i64::MAX)));
    }

    #[test]
    fn names_line_column_and_value() {
        let e = parse("m.csv", "variable,category,total\nregion,0301,5\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("`region`"), "{e}");
        let e = parse("m.csv", "variable,category,total\ngender,f,-3\n").unwrap_err();
        assert!(
            e.to_string().contains("m.csv line 2: column total: `-3`"),
            "{e}"
        );
        let e = parse("m.csv", "variable,category,total\nage_band,old,3\n").unwrap_err();
        assert!(e.message.contains("`old` is not an age band"), "{e}");
        let e = parse("m.csv", "variable,category,total\ngender,f,3\ngender,f,4\n").unwrap_err();
        assert!(e.message.contains("also line 2"), "{e}");
    }
}
