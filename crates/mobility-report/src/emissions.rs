//! The emissions section: CO₂e by mode, the scenario, and road traffic beside residents'
//! driving.

use arrow::array::{Array, RecordBatch};
use mobility_model::columns::{f64s, utf8};

use crate::Tables;
use crate::cells::{Cell, cells};
use crate::lang::Lang;
use crate::page::{Block, Chart, Row, Section, Table, figure};
use crate::svg::{self, Bar};
use crate::travel::mode_bar_list;
use crate::zones::MapArea;

/// The emissions section.
pub(crate) fn section(tables: &Tables, areas: &[MapArea], lang: Lang) -> Section {
    let mut s = Section::new(lang, "emissions");
    figure(
        &mut s.blocks,
        "co2e_by_mode",
        "co2_mode",
        co2e_by_mode(tables, lang),
        lang,
    );
    figure(
        &mut s.blocks,
        "scenario",
        "scenario",
        scenario(tables, lang),
        lang,
    );
    road(&mut s.blocks, tables, areas, lang);
    s
}

/// Bars of CO₂e per resident and year by mode, above 0, largest first.
fn co2e_by_mode(tables: &Tables, lang: Lang) -> Option<Chart> {
    let co2 = cells(tables, "co2e_by_mode", "all", Some("mode"));
    if co2.is_empty() {
        return None;
    }
    let mut c: Vec<Cell> = co2.into_iter().filter(|c| c.est > 0.0).collect();
    c.sort_by(|a, b| b.est.total_cmp(&a.est));
    let bars = mode_bar_list(c, lang);
    Chart::of(svg::bars(&bars, 1.0, "kg", 0, lang.decimal()), bars.len())
}

/// Car vehicle-km and CO₂e per resident today and with the scenario, two bars each.
fn scenario(tables: &Tables, lang: Lang) -> Option<Chart> {
    let sc = cells(
        tables,
        "scenario_shift_short_car_trips",
        "all",
        Some("measure"),
    );
    if sc.is_empty() {
        return None;
    }
    let get = |m: &str| {
        sc.iter()
            .find(|c| c.key.as_deref() == Some(m))
            .map(|c| c.est)
    };
    let bar = |label: String, value: f64| Bar {
        label,
        value,
        lo: None,
        hi: None,
        suppressed: false,
    };
    let mut bars = Vec::new();
    for (base, change, label) in [
        (
            "vehicle_km_per_day_baseline",
            "vehicle_km_per_day_change",
            "vkm",
        ),
        (
            "co2e_kg_per_year_baseline",
            "co2e_kg_per_year_change",
            "co2",
        ),
    ] {
        if let (Some(b), Some(c)) = (get(base), get(change)) {
            let label = lang.t(label);
            bars.push(bar(format!("{label}, {}", lang.t("baseline")), b));
            bars.push(bar(format!("{label}, {}", lang.t("after")), b + c));
        }
    }
    Chart::of(svg::bars(&bars, 1.0, "", 1, lang.decimal()), bars.len())
}

/// An estimate with its CI, divided by `scale`, with `digits` decimals.
fn with_ci(lang: Lang, e: f64, lo: f64, hi: f64, scale: f64, digits: usize) -> String {
    format!(
        "{} ({} – {})",
        lang.num(e / scale, digits),
        lang.num(lo / scale, digits),
        lang.num(hi / scale, digits)
    )
}

/// Road vehicle-km and CO₂e from the traffic links beside the survey's car-driver km and
/// CO₂e, each with what it covers: the two answer different questions (traffic on the
/// municipality's measured roads, by anyone; residents' driving, anywhere).
fn road(blocks: &mut Vec<Block>, tables: &Tables, areas: &[MapArea], lang: Lang) {
    let mut rows: Vec<Row> = Vec::new();
    for id in ["road_vkm", "road_co2e"] {
        if let Some(b) = tables.get(id) {
            road_rows(&mut rows, b, id, areas, lang);
        }
    }
    if rows.is_empty() {
        return;
    }
    rows.extend(survey_rows(tables, lang));
    blocks.push(Block::Heading(lang.t("road").to_string()));
    blocks.push(Block::Table(Table {
        class: Some("road"),
        name: Some("road"),
        head: ["road_what", "road_value", "road_covers"]
            .iter()
            .map(|k| lang.t(k).to_string())
            .collect(),
        rows,
    }));
}

/// "M" after millions.
fn million(lang: Lang) -> &'static str {
    if lang == Lang::Nb { "mill." } else { "M" }
}

/// The rows of `road_vkm` or `road_co2e` for all road categories and vehicle classes, one per
/// municipality, named as the zones name it.
fn road_rows(rows: &mut Vec<Row>, b: &RecordBatch, id: &str, areas: &[MapArea], lang: Lang) {
    // Municipality numbers as the links give them (301) or as kommune zones have them (0301).
    let name = |id: &str| -> String {
        let padded = format!("{id:0>4}");
        match areas.iter().find(|a| a.id == id || a.id == padded) {
            Some(a) if !a.name.is_empty() => format!("{} ({id})", a.name),
            _ => id.to_string(),
        }
    };
    let value = if id == "road_vkm" {
        "vkm"
    } else {
        "tonnes_co2e"
    };
    let (Some(muni), Some(cat), Some(class)) = (
        utf8(b, "municipality_id"),
        utf8(b, "road_category"),
        utf8(b, "vehicle_class"),
    ) else {
        return;
    };
    let (Some(e), Some(lo), Some(hi), Some(len), Some(links)) = (
        f64s(b, value),
        f64s(b, "ci_lower"),
        f64s(b, "ci_upper"),
        f64s(b, "length_coverage"),
        f64s(b, "link_coverage"),
    ) else {
        return;
    };
    let (scale, digits, unit) = if id == "road_vkm" {
        (1e6, 1, format!(" {}", million(lang)))
    } else {
        (1.0, 0, String::new())
    };
    for i in 0..b.num_rows() {
        if cat.value(i) != "all" || class.value(i) != "all" || !e.is_valid(i) {
            continue;
        }
        let estimate = with_ci(lang, e.value(i), lo.value(i), hi.value(i), scale, digits);
        rows.push(Row::of([
            format!("{}, {}", lang.t(id), name(muni.value(i))),
            format!("{estimate}{unit}"),
            lang.t("road_cover")
                .replace("{len}", &lang.num(100.0 * len.value(i), 0))
                .replace("{links}", &lang.num(100.0 * links.value(i), 0)),
        ]));
    }
}

/// The survey's car-driver km and CO₂e, for comparison with the roads' figures.
fn survey_rows(tables: &Tables, lang: Lang) -> Vec<Row> {
    let ci = |c: &Cell, scale, digits| {
        with_ci(
            lang,
            c.est,
            c.lo.unwrap_or(f64::NAN),
            c.hi.unwrap_or(f64::NAN),
            scale,
            digits,
        )
    };
    let mut rows = Vec::new();
    if let Some(c) = cells(tables, "car_vkm_year", "all", None).first() {
        rows.push(Row::of([
            lang.t("survey_vkm").to_string(),
            format!("{} {}", ci(c, 1e6, 1), million(lang)),
            lang.t("survey_cover").to_string(),
        ]));
    }
    if let Some(c) = cells(tables, "co2e_total_tonnes", "all", Some("mode"))
        .into_iter()
        .find(|c| c.key.as_deref() == Some("car_driver"))
    {
        rows.push(Row::of([
            lang.t("survey_co2e").to_string(),
            ci(&c, 1.0, 0),
            lang.t("survey_cover").to_string(),
        ]));
    }
    rows
}
