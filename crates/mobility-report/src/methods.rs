//! The methods section: how the figures are estimated, the rows of each input table, and the
//! emission factors with their sources.

use arrow::array::{Array, Float64Array, RecordBatch, StringArray};
use mobility_model::columns::{f64s, utf8};

use crate::lang::Lang;
use crate::page::{Block, Row, Section, Table};
use crate::{RunFacts, Tables};

/// The methods section.
pub(crate) fn section(tables: &Tables, facts: &RunFacts, lang: Lang) -> Section {
    let mut s = Section::new(lang, "methods");
    let b = &mut s.blocks;
    b.push(Block::Paragraph(lang.t("est_text").to_string()));
    b.push(Block::Paragraph(lang.t("idx_text").to_string()));
    b.push(Block::Heading(lang.t("inputs").to_string()));
    b.push(Block::Table(Table {
        head: vec!["table".to_string(), lang.t("rows").to_string()],
        rows: facts
            .table_rows
            .iter()
            .map(|(t, n)| Row::of([t.clone(), lang.num(*n as f64, 0)]))
            .collect(),
        ..Table::default()
    }));
    if let Some(f) = tables.get("emission_factors")
        && let Some(table) = factors(f, lang)
    {
        b.push(Block::Heading(lang.t("factors").to_string()));
        b.push(Block::Table(table));
    }
    s
}

/// The emission factors, a row each: year, mode, fuel, g/vkm, g/pkm, source.
fn factors(b: &RecordBatch, lang: Lang) -> Option<Table> {
    let texts: Vec<StringArray> = ["year", "mode", "fuel", "source"]
        .iter()
        .map(|c| utf8(b, c))
        .collect::<Option<_>>()?;
    let grams: Vec<Float64Array> = ["g_co2e_per_vkm", "g_co2e_per_pkm"]
        .iter()
        .map(|c| f64s(b, c))
        .collect::<Option<_>>()?;
    if b.num_rows() == 0 {
        return None;
    }
    let text = |c: &StringArray, i: usize| {
        if c.is_valid(i) {
            c.value(i).to_string()
        } else {
            String::new()
        }
    };
    let gram = |c: &Float64Array, i: usize| {
        if c.is_valid(i) {
            lang.num(c.value(i), 1)
        } else {
            String::new()
        }
    };
    let rows = (0..b.num_rows())
        .map(|i| {
            Row::of([
                text(&texts[0], i),
                text(&texts[1], i),
                text(&texts[2], i),
                gram(&grams[0], i),
                gram(&grams[1], i),
                text(&texts[3], i),
            ])
        })
        .collect();
    Some(Table {
        class: Some("small"),
        head: ["year", "mode", "fuel", "g/vkm", "g/pkm", "source"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows,
        ..Table::default()
    })
}
