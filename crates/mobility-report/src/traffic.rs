//! The traffic section: the rolling traffic index, the hourly and weekday profiles of the
//! counting points, and a map of the points by ÅDT.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::array::{Array, RecordBatch};
use mobility_model::columns::{f64s, utf8, year_month};

use crate::Tables;
use crate::lang::Lang;
use crate::page::{Chart, Section, figure};
use crate::svg::{self, Line, MapPoint, MapZone};
use crate::zones::MapArea;

/// The traffic section.
pub(crate) fn section(tables: &Tables, areas: &[MapArea], lang: Lang) -> Section {
    let mut s = Section::new(lang, "traffic");
    let b = &mut s.blocks;
    let index = tables
        .get("traffic_index_rolling")
        .and_then(|r| index(r, lang));
    figure(b, "traffic_index", "index", index, lang);
    let names = point_names(tables);
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let hourly = tables
        .get("traffic_hourly_profile")
        .and_then(|t| profile(t, "hour", &names, &hours, lang));
    figure(b, "hourly_profile", "hourly", hourly, lang);
    let days = match lang {
        Lang::Nb => ["man", "tir", "ons", "tor", "fre", "lør", "søn"],
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    };
    let days: Vec<String> = days.iter().map(|d| d.to_string()).collect();
    let weekly = tables
        .get("traffic_weekday_profile")
        .and_then(|t| profile(t, "weekday", &names, &days, lang));
    figure(b, "weekday_profile", "weekday", weekly, lang);
    let points = points_map(tables, areas, lang);
    figure(b, "map_points", "map_points", points, lang);
    s
}

/// The number of values the lines draw (one per point).
fn line_points(lines: &[Line]) -> usize {
    lines
        .iter()
        .map(|l| l.values.iter().flatten().count())
        .sum()
}

/// The rolling index of all points, a line per window over the months, with its CI band.
fn index(r: &RecordBatch, lang: Lang) -> Option<Chart> {
    let (subset, window, last, ip, lo, hi) = (
        utf8(r, "subset")?,
        utf8(r, "window")?,
        utf8(r, "last_month")?,
        f64s(r, "index_p")?,
        f64s(r, "ci_lower")?,
        f64s(r, "ci_upper")?,
    );
    let rows: Vec<usize> = (0..r.num_rows())
        .filter(|&i| subset.value(i) == "all points")
        .collect();
    let months: Vec<String> = rows
        .iter()
        .filter_map(|&i| year_month(last.value(i)))
        .map(str::to_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let windows: BTreeSet<&str> = rows.iter().map(|&i| window.value(i)).collect();
    let lines: Vec<Line> = windows
        .iter()
        .map(|w| {
            let at = |m: &str| {
                rows.iter()
                    .copied()
                    .find(|&i| window.value(i) == *w && year_month(last.value(i)) == Some(m))
            };
            Line {
                name: w.replace('_', " "),
                values: months
                    .iter()
                    .map(|m| at(m).filter(|&i| ip.is_valid(i)).map(|i| ip.value(i)))
                    .collect(),
                band: Some(
                    months
                        .iter()
                        .map(|m| {
                            at(m)
                                .filter(|&i| lo.is_valid(i) && hi.is_valid(i))
                                .map(|i| (lo.value(i), hi.value(i)))
                        })
                        .collect(),
                ),
            }
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    Chart::of(
        svg::lines(&months, &lines, "%", lang.decimal()),
        line_points(&lines),
    )
}

/// Each counting point's name (from the run's `counting_points`), by `trp_id`.
fn point_names(tables: &Tables) -> HashMap<String, String> {
    let mut names = HashMap::new();
    if let Some(b) = tables.get("counting_points")
        && let (Some(id), Some(name)) = (utf8(b, "trp_id"), utf8(b, "name"))
    {
        for i in (0..b.num_rows()).filter(|&i| name.is_valid(i)) {
            names.insert(id.value(i).to_string(), name.value(i).to_string());
        }
    }
    names
}

/// A profile table (`trp_id`, the position `x` on the axis, `mean_volume`): a line per
/// point, named by its name (with its id where two points share a name) or else its id, the
/// first 8 by that label.
fn profile(
    b: &RecordBatch,
    x: &str,
    names: &HashMap<String, String>,
    labels: &[String],
    lang: Lang,
) -> Option<Chart> {
    let n = labels.len();
    let (p, x, v) = (utf8(b, "trp_id")?, f64s(b, x)?, f64s(b, "mean_volume")?);
    let mut per: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
    for i in 0..b.num_rows() {
        let e = per.entry(p.value(i)).or_insert_with(|| vec![None; n]);
        let k = x.value(i) as usize;
        if k < n && v.is_valid(i) {
            e[k] = Some(v.value(i));
        }
    }
    let name = |id: &str| names.get(id).map_or(id, String::as_str).to_string();
    let mut named: BTreeMap<String, usize> = BTreeMap::new();
    for id in per.keys() {
        *named.entry(name(id)).or_default() += 1;
    }
    let mut lines: Vec<Line> = per
        .into_iter()
        .map(|(id, values)| {
            let label = name(id);
            Line {
                name: if named[&label] > 1 {
                    format!("{label} ({id})")
                } else {
                    label
                },
                values,
                band: None,
            }
        })
        .collect();
    lines.sort_by(|a, b| a.name.cmp(&b.name));
    lines.truncate(8);
    if lines.is_empty() {
        return None;
    }
    Chart::of(
        svg::lines(labels, &lines, "", lang.decimal()),
        line_points(&lines),
    )
}

/// The counting points with an ÅDT and a position, sized by ÅDT, over the zones' outlines.
fn points_map(tables: &Tables, areas: &[MapArea], lang: Lang) -> Option<Chart> {
    let b = tables.get("counting_points")?;
    let (n, x, y, v) = (
        utf8(b, "name")?,
        f64s(b, "lon")?,
        f64s(b, "lat")?,
        f64s(b, "adt")?,
    );
    let points: Vec<MapPoint> = (0..b.num_rows())
        .filter(|&i| v.is_valid(i) && x.is_valid(i) && y.is_valid(i))
        .map(|i| MapPoint {
            label: n.value(i).to_string(),
            lon: x.value(i),
            lat: y.value(i),
            size: v.value(i),
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    let outline: Vec<MapZone> = areas
        .iter()
        .map(|a| MapZone {
            label: format!("{} {}", a.id, a.name),
            geometry: a.geometry.clone(),
            value: None,
            suppressed: false,
        })
        .collect();
    Chart::of(
        svg::map(&outline, &points, "", 1.0, 0, lang.decimal()),
        points.len(),
    )
}
