//! Flows between municipalities (`od_trips_municipality`, breakdown `all`): a flow map of the
//! 25 largest flows between different places, and a table of the flows within, out of and
//! into the municipality with the most trips within it (the survey's own), each with its CI.

use arrow::array::{Array, AsArray, BooleanArray, Float64Array, StringArray};
use geo::Centroid;
use mobility_model::columns::{f64s, utf8};

use crate::Tables;
use crate::lang::Lang;
use crate::page::{Block, Chart, Row, Table, TableCell, figure};
use crate::svg::{self, FlowLine, MapZone};
use crate::zones::MapArea;

/// The flows of `od_trips_municipality` the report reads, with the rows of breakdown `all`.
struct Flows {
    o: StringArray,
    d: StringArray,
    est: Float64Array,
    lo: Float64Array,
    hi: Float64Array,
    suppressed: Option<BooleanArray>,
    rows: Vec<usize>,
}

impl Flows {
    fn read(tables: &Tables) -> Option<Self> {
        let b = tables.get("od_trips_municipality")?;
        let (bd, est) = (utf8(b, "breakdown")?, f64s(b, "estimate")?);
        let rows = (0..b.num_rows())
            .filter(|&i| bd.value(i) == "all" && est.is_valid(i))
            .collect();
        Some(Self {
            o: utf8(b, "origin_zone_id")?,
            d: utf8(b, "dest_zone_id")?,
            est,
            lo: f64s(b, "ci_lower")?,
            hi: f64s(b, "ci_upper")?,
            suppressed: b
                .column_by_name("suppressed")
                .map(|c| c.as_boolean().clone()),
            rows,
        })
    }

    fn suppressed(&self, i: usize) -> bool {
        self.suppressed.as_ref().is_some_and(|s| s.value(i))
    }
}

/// Names and centres of the places of the flows.
struct Places<'a> {
    areas: &'a [MapArea],
    lang: Lang,
}

impl Places<'_> {
    fn name(&self, id: &str) -> String {
        if id == "outside" {
            return self.lang.t("outside").to_string();
        }
        match self.areas.iter().find(|a| a.id == id) {
            Some(a) if !a.name.is_empty() => a.name.clone(),
            _ => id.to_string(),
        }
    }

    fn centre(&self, id: &str) -> Option<(f64, f64)> {
        self.areas
            .iter()
            .find(|a| a.id == id)
            .and_then(|a| a.geometry.centroid())
            .map(|c| (c.x(), c.y()))
    }
}

/// The heading, flow map and flow table, when the run has `od_trips_municipality`.
pub(crate) fn blocks(blocks: &mut Vec<Block>, tables: &Tables, areas: &[MapArea], lang: Lang) {
    let Some(f) = Flows::read(tables) else {
        return;
    };
    let places = Places { areas, lang };
    blocks.push(Block::Heading(lang.t("flows").to_string()));
    figure(blocks, "od_flows", "flow_map", flow_map(&f, &places), lang);
    if let Some(t) = flow_table(&f, &places) {
        blocks.push(Block::Table(t));
    }
}

/// The 25 largest flows between two different places that have a centre, over the places.
fn flow_map(f: &Flows, places: &Places<'_>) -> Option<Chart> {
    let (o, d, est) = (&f.o, &f.d, &f.est);
    let mut between: Vec<usize> = f
        .rows
        .iter()
        .copied()
        .filter(|&i| {
            o.value(i) != d.value(i)
                && places.centre(o.value(i)).is_some()
                && places.centre(d.value(i)).is_some()
        })
        .collect();
    between.sort_by(|&a, &c| est.value(c).total_cmp(&est.value(a)));
    between.truncate(25);
    let lines: Vec<FlowLine> = between
        .iter()
        .map(|&i| FlowLine {
            label: format!("{} → {}", places.name(o.value(i)), places.name(d.value(i))),
            from: places.centre(o.value(i)).expect("filtered"),
            to: places.centre(d.value(i)).expect("filtered"),
            value: est.value(i),
            suppressed: f.suppressed(i),
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    let in_flows = |id: &str| f.rows.iter().any(|&i| o.value(i) == id || d.value(i) == id);
    let background: Vec<MapZone> = places
        .areas
        .iter()
        .filter(|a| in_flows(&a.id))
        .map(|a| MapZone {
            label: places.name(&a.id),
            geometry: a.geometry.clone(),
            value: None,
            suppressed: false,
        })
        .collect();
    let lang = places.lang;
    Chart::of(
        svg::flows(&background, &lines, lang.t("trips_day"), lang.decimal()),
        lines.len(),
    )
}

/// The flows within, out of and into the municipality with the most trips within it (the
/// survey's own), each with its CI, largest first.
fn flow_table(f: &Flows, places: &Places<'_>) -> Option<Table> {
    let (o, d, est, lang) = (&f.o, &f.d, &f.est, places.lang);
    let home = f
        .rows
        .iter()
        .copied()
        .filter(|&i| o.value(i) == d.value(i) && o.value(i) != "outside")
        .max_by(|&a, &c| est.value(a).total_cmp(&est.value(c)))
        .map(|i| o.value(i).to_string())?;
    let mut rows: Vec<usize> = f
        .rows
        .iter()
        .copied()
        .filter(|&i| o.value(i) == home || d.value(i) == home)
        .collect();
    rows.sort_by(|&a, &c| est.value(c).total_cmp(&est.value(a)));
    let bound = |a: &Float64Array, i: usize| {
        if a.is_valid(i) {
            lang.num(a.value(i), 0)
        } else {
            "–".into()
        }
    };
    let row = |i: usize| {
        let label = if o.value(i) == d.value(i) {
            format!("{} {}", lang.t("within"), places.name(&home))
        } else {
            format!("{} → {}", places.name(o.value(i)), places.name(d.value(i)))
        };
        Row {
            class: f.suppressed(i).then_some("suppressed"),
            cells: vec![
                TableCell::text(label),
                TableCell::text(lang.num(est.value(i), 0)),
                TableCell::text(format!("{} – {}", bound(&f.lo, i), bound(&f.hi, i))),
            ],
        }
    };
    Some(Table {
        class: Some("flows"),
        name: Some("od_flows"),
        head: ["flow", "trips_day", "ci"]
            .iter()
            .map(|k| lang.t(k).to_string())
            .collect(),
        rows: rows.into_iter().map(row).collect(),
    })
}
