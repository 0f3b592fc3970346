//! The targets section: each target of the municipality beside its measured value.

use arrow::array::{Array, Float64Array, RecordBatch, StringArray};
use mobility_model::columns::{f64s, utf8};

use crate::Tables;
use crate::lang::Lang;
use crate::page::{Block, Row, Section, Table, TableCell};

/// The columns of the `targets` table the section reads.
struct Targets {
    title: StringArray,
    title_nb: Option<StringArray>,
    unit: Option<StringArray>,
    status_code: Option<StringArray>,
    status: StringArray,
    status_nb: Option<StringArray>,
    trend: Option<StringArray>,
    year: StringArray,
    target: Float64Array,
    measured: Float64Array,
    lo: Float64Array,
    hi: Float64Array,
    gap: Float64Array,
}

impl Targets {
    fn read(t: &RecordBatch, lang: Lang) -> Option<Self> {
        let trend = if lang == Lang::Nb {
            "trend_nb"
        } else {
            "trend"
        };
        Some(Self {
            title: utf8(t, "title")?,
            title_nb: utf8(t, "title_nb"),
            unit: utf8(t, "unit"),
            status_code: utf8(t, "status_code"),
            status: utf8(t, "status")?,
            status_nb: utf8(t, "status_nb"),
            trend: utf8(t, trend).or_else(|| utf8(t, "trend")),
            year: utf8(t, "year")?,
            target: f64s(t, "target_value")?,
            measured: f64s(t, "measured")?,
            lo: f64s(t, "ci_lower")?,
            hi: f64s(t, "ci_upper")?,
            gap: f64s(t, "gap")?,
        })
    }

    /// Row `i` of the table.
    fn row(&self, i: usize, lang: Lang) -> Row {
        // The target's unit (`share`, `percent` or a unit to write after the number).
        let (s, unit) = match self.unit.as_ref().map_or("", |u| u.value(i)) {
            "share" => (100.0, "\u{a0}%".to_string()),
            "percent" => (1.0, "\u{a0}%".to_string()),
            "" => (1.0, String::new()),
            u => (1.0, format!("\u{a0}{u}")),
        };
        let v = |a: &Float64Array| {
            if a.is_valid(i) {
                format!("{}{unit}", lang.num(a.value(i) * s, 1))
            } else {
                "–".into()
            }
        };
        let ci = if self.lo.is_valid(i) {
            format!("{} – {}", v(&self.lo), v(&self.hi))
        } else {
            "–".into()
        };
        let class = match self.status_code.as_ref().map_or("", |c| c.value(i)) {
            "met" => "met",
            "not_met" => "notmet",
            _ => "open",
        };
        let in_lang = |en: &StringArray, nb: &Option<StringArray>| match (lang, nb) {
            (Lang::Nb, Some(nb)) if nb.is_valid(i) => nb.value(i).to_string(),
            _ => en.value(i).to_string(),
        };
        Row {
            class: None,
            cells: vec![
                TableCell {
                    text: in_lang(&self.title, &self.title_nb),
                    // A count-based trend beside the value (the bike target: the bicycle points).
                    small: self
                        .trend
                        .as_ref()
                        .filter(|c| c.is_valid(i))
                        .map(|c| c.value(i).to_string()),
                    ..TableCell::default()
                },
                TableCell::text(self.year.value(i).to_string()),
                TableCell::text(v(&self.target)),
                TableCell::text(v(&self.measured)),
                TableCell::text(ci),
                TableCell::text(v(&self.gap)),
                TableCell {
                    text: in_lang(&self.status, &self.status_nb),
                    class: Some(class),
                    small: None,
                },
            ],
        }
    }
}

/// The targets section: a table of target, measured value, CI, gap and status per target.
pub(crate) fn section(tables: &Tables, lang: Lang) -> Section {
    let mut s = Section::new(lang, "targets");
    let Some(t) = tables.get("targets") else {
        return s;
    };
    let Some(cols) = Targets::read(t, lang) else {
        return s;
    };
    let head = ["", "year", "target", "measured", "ci", "gap", "status"]
        .iter()
        .map(|k| {
            if k.is_empty() {
                String::new()
            } else {
                lang.t(k).to_string()
            }
        })
        .collect();
    s.blocks.push(Block::Table(Table {
        class: Some("targets"),
        name: None,
        head,
        rows: (0..t.num_rows()).map(|i| cols.row(i, lang)).collect(),
    }));
    s
}
