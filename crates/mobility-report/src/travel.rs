//! The travel-behaviour section: mode shares, trips by distance band and mode, the
//! sustainable share by home zone, and the flows between municipalities.

use std::collections::BTreeMap;

use crate::Tables;
use crate::cells::{Cell, cells};
use crate::lang::{Lang, mode_label};
use crate::page::{Block, Chart, Section, figure};
use crate::svg::{self, Bar, MapZone};
use crate::zones::MapArea;

/// The travel-behaviour section.
pub(crate) fn section(
    tables: &Tables,
    areas: &[MapArea],
    undrawn: &[String],
    lang: Lang,
) -> Section {
    let mut s = Section::new(lang, "travel");
    let b = &mut s.blocks;
    for (id, caption) in [
        ("mode_share_trips", "mode_trips"),
        ("mode_share_km", "mode_km"),
    ] {
        let chart = mode_bars(cells(tables, id, "all", Some("mode")), lang);
        figure(b, id, caption, chart, lang);
    }
    figure(
        b,
        "distance_bands",
        "bands",
        distance_bands(tables, lang),
        lang,
    );
    figure(
        b,
        "map_zones",
        "map_zones",
        home_zones(tables, areas, lang),
        lang,
    );
    b.push(Block::Note {
        text: lang.t("suppressed").to_string(),
        undrawn: None,
    });
    if !undrawn.is_empty() {
        b.push(Block::Note {
            text: format!("{}: {}", lang.t("undrawn"), undrawn.join("; ")),
            undrawn: Some(undrawn.len()),
        });
    }
    crate::flows::blocks(b, tables, areas, lang);
    s
}

/// Bars of the cells above 0, largest first, as percentages with their CIs.
fn mode_bars(cells: Vec<Cell>, lang: Lang) -> Option<Chart> {
    let mut c: Vec<Cell> = cells.into_iter().filter(|c| c.est > 0.0).collect();
    if c.is_empty() {
        return None;
    }
    c.sort_by(|a, b| b.est.total_cmp(&a.est));
    let bars = mode_bar_list(c, lang);
    Chart::of(svg::bars(&bars, 100.0, "%", 1, lang.decimal()), bars.len())
}

/// A bar per cell, labelled with its mode.
pub(crate) fn mode_bar_list(cells: Vec<Cell>, lang: Lang) -> Vec<Bar> {
    cells
        .into_iter()
        .map(|c| Bar {
            label: mode_label(lang, &c.key.unwrap_or_default()),
            value: c.est,
            lo: c.lo,
            hi: c.hi,
            suppressed: c.suppressed,
        })
        .collect()
}

/// The mode shares of trips in each distance band as stacked bars: the six largest modes,
/// the rest together (one colour each).
fn distance_bands(tables: &Tables, lang: Lang) -> Option<Chart> {
    let band_cells = cells(tables, "mode_share_trips", "distance_band", Some("mode"));
    if band_cells.is_empty() {
        return None;
    }
    let mut modes: BTreeMap<String, f64> = BTreeMap::new();
    for c in &band_cells {
        *modes.entry(c.key.clone().unwrap_or_default()).or_default() += c.est;
    }
    let mut series: Vec<String> = modes.keys().cloned().collect();
    series.sort_by(|a, b| modes[b].total_cmp(&modes[a]));
    let rest: Vec<String> = series.split_off(series.len().min(6));
    let share = |band: &str, m: &str| {
        band_cells
            .iter()
            .find(|c| c.value.as_deref() == Some(band) && c.key.as_deref() == Some(m))
            .map_or(0.0, |c| c.est)
    };
    let rows: Vec<(String, Vec<f64>)> = mobility_model::codes::DISTANCE_BANDS
        .iter()
        .map(|&(_, band)| {
            let mut shares: Vec<f64> = series.iter().map(|m| share(band, m)).collect();
            if !rest.is_empty() {
                shares.push(rest.iter().map(|m| share(band, m)).sum());
            }
            (lang.label(band), shares)
        })
        .filter(|(_, s)| s.iter().sum::<f64>() > 0.0)
        .collect();
    let mut names: Vec<String> = series.iter().map(|m| mode_label(lang, m)).collect();
    if !rest.is_empty() {
        names.push(mode_label(lang, "other"));
    }
    let segments: usize = rows.iter().map(|(_, shares)| shares.len()).sum();
    Chart::of(svg::stacked(&rows, &names, lang.decimal()), segments)
}

/// A map of the sustainable share by home zone.
fn home_zones(tables: &Tables, areas: &[MapArea], lang: Lang) -> Option<Chart> {
    let map_zones: Vec<MapZone> = cells(tables, "sustainable_share", "home_zone", None)
        .iter()
        .filter_map(|c| {
            let id = c.value.as_deref()?;
            let a = areas.iter().find(|a| a.id == id)?;
            Some(MapZone {
                label: if a.name.is_empty() {
                    id.to_string()
                } else {
                    format!("{id} {}", a.name)
                },
                geometry: a.geometry.clone(),
                value: Some(c.est),
                suppressed: c.suppressed,
            })
        })
        .collect();
    if map_zones.is_empty() {
        return None;
    }
    Chart::of(
        svg::map(&map_zones, &[], "%", 100.0, 0, lang.decimal()),
        map_zones.len(),
    )
}
