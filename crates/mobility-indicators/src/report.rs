//! `report.html`: one self-contained page (inline CSS and SVG, no network) with the targets,
//! charts, maps and methods of a run, in Norwegian (bokmål) or English.
//!
//! Every chart is a `<figure data-chart="…" data-rows="…">` holding an SVG drawn by
//! [`crate::svg`], `data-rows` being the number of data values handed to it (bars, stacked
//! segments, points of lines, zones with a value, counting points); a chart whose data the run
//! does not have says so instead. A small inline script counts each chart's data marks
//! (`class="mark"`, a polyline counting its points) on load and writes what it found on
//! `<body>`: `data-charts` (how many), `data-empty` (charts without marks), `data-marks`
//! (`id=count,…`) and `data-wrong` (charts whose marks differ from their `data-rows`), which
//! the browser test reads.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use geo::MultiPolygon;

use crate::batches::{collect_if, f64s, utf8, year_month};
use crate::manifest::Manifest;
use crate::svg::{self, Bar, Decimal, FlowLine, Line, MapPoint, MapZone, esc};
use crate::{Error, Result};

/// The report's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Norwegian bokmål.
    #[default]
    Nb,
    /// English.
    En,
}

impl Lang {
    /// From `nb` or `en`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nb" | "no" => Some(Self::Nb),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The decimal mark of this language's numbers.
    fn decimal(self) -> Decimal {
        match self {
            Lang::Nb => Decimal::Comma,
            Lang::En => Decimal::Point,
        }
    }

    /// A number for people in this language ([`Decimal::num`]).
    fn num(self, v: f64, digits: usize) -> String {
        self.decimal().num(v, digits)
    }

    /// A category label that holds numbers (`2.5-5 km`) with this language's decimal mark.
    fn label(self, code: &str) -> String {
        if self.decimal() == Decimal::Point {
            return code.to_string();
        }
        let b = code.as_bytes();
        code.char_indices()
            .map(|(i, c)| {
                let digits_around = i > 0
                    && b[i - 1].is_ascii_digit()
                    && b.get(i + 1).is_some_and(u8::is_ascii_digit);
                if c == '.' && digits_around { ',' } else { c }
            })
            .collect()
    }

    fn t(self, key: &str) -> &'static str {
        let (nb, en) = match key {
            "title" => ("Mobilitet og utslipp", "Mobility and emissions"),
            "targets" => ("Mål", "Targets"),
            "undrawn" => (
                "Soner som ikke kunne tegnes (geometrien kan ikke leses)",
                "Zones not drawn (their geometry cannot be read)",
            ),
            "target" => ("Mål", "Target"),
            "measured" => ("Målt", "Measured"),
            "ci" => ("95 % KI", "95 % CI"),
            "gap" => ("Avvik", "Gap"),
            "status" => ("Status", "Status"),
            "year" => ("År", "Year"),
            "travel" => ("Reisevaner", "Travel behaviour"),
            "mode_trips" => (
                "Transportmiddelfordeling, andel av reiser",
                "Mode share of trips",
            ),
            "mode_km" => (
                "Transportmiddelfordeling, andel av personkm",
                "Mode share of person-km",
            ),
            "bands" => (
                "Reiser etter lengde og transportmiddel",
                "Trips by distance band and mode",
            ),
            "emissions" => ("Utslipp", "Emissions"),
            "road" => (
                "Vegtrafikk og innbyggernes reiser: hva hvert tall dekker",
                "Road traffic and residents' travel: what each figure covers",
            ),
            "road_what" => ("Tall", "Figure"),
            "road_value" => ("Per år", "Per year"),
            "road_covers" => ("Dekker", "Covers"),
            "road_vkm" => (
                "Kjøretøykm på trafikklenker med ÅDT",
                "Vehicle-km on traffic links with an AADT",
            ),
            "road_co2e" => (
                "CO₂e fra disse kjøretøykm, t",
                "CO₂e of those vehicle-km, t",
            ),
            "road_cover" => (
                "målte lenker: {len} % av lenkelengden, {links} % av lenkene; alle kjøretøy, også gjennomgangstrafikk",
                "measured links: {len} % of link length, {links} % of links; all vehicles, through traffic included",
            ),
            "survey_vkm" => (
                "Innbyggernes bilkm som fører (reisevaneundersøkelsen)",
                "Residents' car-driver km (travel survey)",
            ),
            "survey_co2e" => (
                "CO₂e fra innbyggernes bilkjøring, t (reisevaneundersøkelsen)",
                "CO₂e of residents' car driving, t (travel survey)",
            ),
            "survey_cover" => (
                "bosatte i utvalgets populasjon, på alle veger, også utenfor kommunen",
                "residents of the survey's population, on every road, outside the municipality too",
            ),
            "co2_mode" => (
                "CO₂e per innbygger og år etter transportmiddel",
                "CO₂e per resident and year by mode",
            ),
            "scenario" => (
                "Scenario: korte bilturer til sykkel og gange",
                "Scenario: short car trips by bike and on foot",
            ),
            "traffic" => ("Trafikk", "Traffic"),
            "index" => (
                "Trafikkindeks (glidende, mot referanseåret), alle punkter, uoffisiell",
                "Traffic index (rolling, against the reference year), all points, unofficial",
            ),
            "hourly" => (
                "Timeprofil på virkedager (uten helligdager), gjennomsnittlig trafikk per time",
                "Hourly profile on working days (public holidays left out), mean traffic per hour",
            ),
            "weekday" => (
                "Ukedagsprofil, gjennomsnittlig døgntrafikk",
                "Weekday profile, mean daily traffic",
            ),
            "map_zones" => (
                "Bærekraftig andel av reiser etter bostedssone",
                "Sustainable share of trips by home zone",
            ),
            "map_points" => ("Tellepunkter etter ÅDT", "Counting points by AADT"),
            "flows" => (
                "Reisestrømmer mellom kommuner, reiser per gjennomsnittsdøgn",
                "Flows between municipalities, trips per average day",
            ),
            "flow_map" => (
                "De største strømmene mellom kommuner (og utenfor)",
                "The largest flows between municipalities (and outside)",
            ),
            "flow" => ("Strøm", "Flow"),
            "trips_day" => ("Reiser per døgn", "Trips per day"),
            "within" => ("innen", "within"),
            "outside" => ("utenfor sonene", "outside the zones"),
            "methods" => ("Metode og kilder", "Methods and sources"),
            "no_data" => (
                "Ingen data for denne figuren i kjøringen.",
                "This run has no data for this chart.",
            ),
            "suppressed" => (
                "* usikkert anslag (n < 50 eller CV > 0,3), vist blekt eller skravert",
                "* uncertain estimate (n < 50 or CV > 0.3), shown pale or hatched",
            ),
            "inputs" => ("Inndata", "Inputs"),
            "rows" => ("rader", "rows"),
            "factors" => (
                "Utslippsfaktorer og kilder",
                "Emission factors and their sources",
            ),
            "generated" => ("Laget av mobility", "Made by mobility"),
            "baseline" => ("i dag", "today"),
            "after" => ("med scenario", "with the scenario"),
            "vkm" => (
                "Bil-km per innbygger og dag",
                "Car vehicle-km per resident and day",
            ),
            "co2" => (
                "kg CO₂e per innbygger og år",
                "kg CO₂e per resident and year",
            ),
            "est_text" => (
                "Alle reisevaneindikatorer er forholdstallsestimatorer over personer, R = Σ wᵢyᵢ / Σ wᵢxᵢ, der personer uten reiser teller med. Standardfeil er Taylor-lineariserte innenfor strata (personen er trekkenheten), konfidensintervall med t-fordeling; utslippene har standardfeil fra Rao–Wu-bootstrap. Celler med n < 50 eller CV > 0,3 er merket usikre.",
                "Every travel-survey indicator is a ratio estimator over persons, R = Σ wᵢyᵢ / Σ wᵢxᵢ, with persons without trips included. Standard errors are Taylor-linearised within strata (the person is the sampling unit), CIs use Student's t; the emissions' standard errors come from the Rao–Wu bootstrap. Cells with n < 50 or CV > 0.3 are flagged uncertain.",
            ),
            "idx_text" => (
                "Trafikkindeksen følger Statens vegvesens metode: lette kjøretøy, timer med dekningsgrad ≥ 99 % matchet time for time mellom årene, områdeindeks vektet med basisvolum, med n_eff, standardavvik og konfidensintervall som i byindeksen. Glidende indeks bruker månedsdøgntrafikk (MDT) mot referanseåret. Tallene her er beregnet av mobility fra datakatalogens punkter og er ikke offisielle.",
                "The traffic index follows Statens vegvesen's method: light vehicles, hours with coverage ≥ 99 % matched hour for hour between the years, an area index weighted by base volume with n_eff, SD and CI as in the city index. The rolling index uses monthly daily traffic (MDT) against the reference year. The figures here are computed by mobility from the data directory's points and are not official.",
            ),
            _ => ("?", "?"),
        };
        match self {
            Lang::Nb => nb,
            Lang::En => en,
        }
    }
}

/// A mode code as people say it.
fn mode_label(lang: Lang, code: &str) -> String {
    let (nb, en) = match code {
        "walk" => ("gange", "walk"),
        "bike" => ("sykkel", "bike"),
        "car_driver" => ("bilfører", "car driver"),
        "car_passenger" => ("bilpassasjer", "car passenger"),
        "bus" => ("buss", "bus"),
        "tram" => ("trikk", "tram"),
        "metro" => ("T-bane", "metro"),
        "rail" => ("tog", "train"),
        "ferry" => ("ferje/båt", "ferry"),
        "taxi" => ("drosje", "taxi"),
        "motorcycle" => ("MC", "motorcycle"),
        "plane" => ("fly", "plane"),
        "other" => ("annet", "other"),
        c => (c, c),
    };
    (if lang == Lang::Nb { nb } else { en }).to_string()
}

/// One cell of an indicator table.
struct Cell {
    value: Option<String>,
    key: Option<String>,
    est: f64,
    lo: Option<f64>,
    hi: Option<f64>,
    suppressed: bool,
}

/// The cells of `breakdown`, keyed by `key` (a column) when given.
fn cells(
    outputs: &HashMap<String, RecordBatch>,
    id: &str,
    breakdown: &str,
    key: Option<&str>,
) -> Vec<Cell> {
    let Some(b) = outputs.get(id) else {
        return vec![];
    };
    let (Some(bd), Some(bv), Some(est)) = (
        utf8(b, "breakdown"),
        utf8(b, "breakdown_value"),
        f64s(b, "estimate"),
    ) else {
        return vec![];
    };
    let (lo, hi) = (f64s(b, "ci_lower"), f64s(b, "ci_upper"));
    let k = key.and_then(|k| utf8(b, k));
    let sup = b
        .column_by_name("suppressed")
        .map(|c| c.as_boolean().clone());
    (0..b.num_rows())
        .filter(|&i| bd.value(i) == breakdown && est.is_valid(i))
        .map(|i| Cell {
            value: bv.is_valid(i).then(|| bv.value(i).to_string()),
            key: k
                .as_ref()
                .and_then(|k| k.is_valid(i).then(|| k.value(i).to_string())),
            est: est.value(i),
            lo: lo.as_ref().and_then(|a| a.is_valid(i).then(|| a.value(i))),
            hi: hi.as_ref().and_then(|a| a.is_valid(i).then(|| a.value(i))),
            suppressed: sup.as_ref().is_some_and(|s| s.value(i)),
        })
        .collect()
}

/// A drawn chart: its SVG and the number of data values it draws (see the module doc).
type Chart = (String, usize);

fn figure(out: &mut String, id: &str, caption: &str, chart: Option<Chart>, lang: Lang) {
    match chart.filter(|(s, _)| !s.is_empty()) {
        Some((s, rows)) => {
            let _ = write!(
                out,
                r#"<figure data-chart="{id}" data-rows="{rows}"><figcaption>{}</figcaption>{s}"#,
                esc(caption)
            );
        }
        None => {
            let _ = write!(
                out,
                r#"<figure data-chart="{id}"><figcaption>{}</figcaption><p class="none">{}</p>"#,
                esc(caption),
                lang.t("no_data")
            );
        }
    }
    out.push_str("</figure>\n");
}

/// The number of values the lines draw (one per point).
fn line_points(lines: &[Line]) -> usize {
    lines
        .iter()
        .map(|l| l.values.iter().flatten().count())
        .sum()
}

fn mode_bars(cells: Vec<Cell>, lang: Lang) -> Option<Chart> {
    let mut c: Vec<Cell> = cells.into_iter().filter(|c| c.est > 0.0).collect();
    if c.is_empty() {
        return None;
    }
    c.sort_by(|a, b| b.est.total_cmp(&a.est));
    let bars: Vec<Bar> = c
        .into_iter()
        .map(|c| Bar {
            label: mode_label(lang, &c.key.unwrap_or_default()),
            value: c.est,
            lo: c.lo,
            hi: c.hi,
            suppressed: c.suppressed,
        })
        .collect();
    Some((svg::bars(&bars, 100.0, "%", 1, lang.decimal()), bars.len()))
}

/// Flows between municipalities (`od_trips_municipality`, breakdown `all`): a flow map of the
/// 25 largest flows between different places, and a table of the flows within, out of and
/// into the municipality with the most trips within it (the survey's own), each with its CI.
fn od_flows(
    body: &mut String,
    outputs: &HashMap<String, RecordBatch>,
    zone_geoms: &[(String, String, MultiPolygon<f64>)],
    lang: Lang,
) {
    let Some(b) = outputs.get("od_trips_municipality") else {
        return;
    };
    let (Some(bd), Some(o), Some(d), Some(est), Some(lo), Some(hi)) = (
        utf8(b, "breakdown"),
        utf8(b, "origin_zone_id"),
        utf8(b, "dest_zone_id"),
        f64s(b, "estimate"),
        f64s(b, "ci_lower"),
        f64s(b, "ci_upper"),
    ) else {
        return;
    };
    let sup = b
        .column_by_name("suppressed")
        .map(|c| c.as_boolean().clone());
    let rows: Vec<usize> = (0..b.num_rows())
        .filter(|&i| bd.value(i) == "all" && est.is_valid(i))
        .collect();
    let suppressed = |i: usize| sup.as_ref().is_some_and(|s| s.value(i));
    let _ = write!(body, "<h3>{}</h3>", lang.t("flows"));
    let name = |id: &str| -> String {
        if id == "outside" {
            return lang.t("outside").to_string();
        }
        match zone_geoms.iter().find(|z| z.0 == id) {
            Some((_, n, _)) if !n.is_empty() => n.clone(),
            _ => id.to_string(),
        }
    };
    let centre = |id: &str| {
        use geo::Centroid;
        zone_geoms
            .iter()
            .find(|z| z.0 == id)
            .and_then(|z| z.2.centroid())
            .map(|c| (c.x(), c.y()))
    };
    let mut between: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&i| {
            o.value(i) != d.value(i) && centre(o.value(i)).is_some() && centre(d.value(i)).is_some()
        })
        .collect();
    between.sort_by(|&a, &c| est.value(c).total_cmp(&est.value(a)));
    between.truncate(25);
    let lines: Vec<FlowLine> = between
        .iter()
        .map(|&i| FlowLine {
            label: format!("{} → {}", name(o.value(i)), name(d.value(i))),
            from: centre(o.value(i)).expect("filtered"),
            to: centre(d.value(i)).expect("filtered"),
            value: est.value(i),
            suppressed: suppressed(i),
        })
        .collect();
    let places: Vec<&String> = {
        let mut v: Vec<&String> = zone_geoms.iter().map(|z| &z.0).collect();
        v.retain(|id| {
            rows.iter()
                .any(|&i| o.value(i) == id.as_str() || d.value(i) == id.as_str())
        });
        v
    };
    let background: Vec<MapZone> = zone_geoms
        .iter()
        .filter(|z| places.contains(&&z.0))
        .map(|z| MapZone {
            label: name(&z.0),
            geometry: z.2.clone(),
            value: None,
            suppressed: false,
        })
        .collect();
    figure(
        body,
        "od_flows",
        lang.t("flow_map"),
        (!lines.is_empty()).then(|| {
            (
                svg::flows(&background, &lines, lang.t("trips_day"), lang.decimal()),
                lines.len(),
            )
        }),
        lang,
    );
    flow_table(
        body,
        &Flows {
            o: &o,
            d: &d,
            est: &est,
            lo: &lo,
            hi: &hi,
            rows: &rows,
        },
        &suppressed,
        &name,
        lang,
    );
}

/// The flows of `od_trips_municipality` the report reads: origin, destination, estimate and
/// CI columns, and the rows of breakdown `all`.
struct Flows<'a> {
    o: &'a arrow::array::StringArray,
    d: &'a arrow::array::StringArray,
    est: &'a arrow::array::Float64Array,
    lo: &'a arrow::array::Float64Array,
    hi: &'a arrow::array::Float64Array,
    rows: &'a [usize],
}

/// The table of flows within, out of and into the municipality with the most trips within
/// it (the survey's own), each with its CI, largest first.
fn flow_table(
    body: &mut String,
    f: &Flows<'_>,
    suppressed: &dyn Fn(usize) -> bool,
    name: &dyn Fn(&str) -> String,
    lang: Lang,
) {
    let Flows {
        o,
        d,
        est,
        lo,
        hi,
        rows,
    } = *f;
    // The municipality the survey is about: the one with the most trips within it.
    let Some(home) = rows
        .iter()
        .copied()
        .filter(|&i| o.value(i) == d.value(i) && o.value(i) != "outside")
        .max_by(|&a, &c| est.value(a).total_cmp(&est.value(c)))
        .map(|i| o.value(i).to_string())
    else {
        return;
    };
    let mut table: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&i| o.value(i) == home || d.value(i) == home)
        .collect();
    table.sort_by(|&a, &c| est.value(c).total_cmp(&est.value(a)));
    let _ = write!(
        body,
        "<table class=\"flows\" data-table=\"od_flows\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("flow"),
        lang.t("trips_day"),
        lang.t("ci")
    );
    for i in table {
        let label = if o.value(i) == d.value(i) {
            format!("{} {}", lang.t("within"), name(&home))
        } else {
            format!("{} → {}", name(o.value(i)), name(d.value(i)))
        };
        let _ = write!(
            body,
            "<tr{}><td>{}</td><td>{}</td><td>{} – {}</td></tr>",
            if suppressed(i) {
                " class=\"suppressed\""
            } else {
                ""
            },
            esc(&label),
            lang.num(est.value(i), 0),
            if lo.is_valid(i) {
                lang.num(lo.value(i), 0)
            } else {
                "–".into()
            },
            if hi.is_valid(i) {
                lang.num(hi.value(i), 0)
            } else {
                "–".into()
            }
        );
    }
    body.push_str("</table>\n");
}

/// Road vehicle-km and CO₂e from the traffic links beside the survey's car-driver km and
/// CO₂e, each with what it covers: the two answer different questions (traffic on the
/// municipality's measured roads, by anyone; residents' driving, anywhere).
fn road_table(
    body: &mut String,
    outputs: &HashMap<String, RecordBatch>,
    zone_geoms: &[(String, String, MultiPolygon<f64>)],
    lang: Lang,
) {
    // Municipality numbers as the links give them (301) or as kommune zones have them (0301).
    let name = |id: &str| -> String {
        let padded = format!("{id:0>4}");
        match zone_geoms.iter().find(|z| z.0 == id || z.0 == padded) {
            Some((_, n, _)) if !n.is_empty() => format!("{n} ({id})"),
            _ => id.to_string(),
        }
    };
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let ci = |e: f64, lo: f64, hi: f64, scale: f64, digits: usize| {
        format!(
            "{} ({} – {})",
            lang.num(e / scale, digits),
            lang.num(lo / scale, digits),
            lang.num(hi / scale, digits)
        )
    };
    let m = if lang == Lang::Nb { "mill." } else { "M" };
    for (id, label) in [("road_vkm", "road_vkm"), ("road_co2e", "road_co2e")] {
        let Some(b) = outputs.get(id) else { continue };
        let (Some(muni), Some(cat), Some(class)) = (
            utf8(b, "municipality_id"),
            utf8(b, "road_category"),
            utf8(b, "vehicle_class"),
        ) else {
            continue;
        };
        let value = if id == "road_vkm" {
            "vkm"
        } else {
            "tonnes_co2e"
        };
        let (Some(e), Some(lo), Some(hi), Some(len), Some(links)) = (
            f64s(b, value),
            f64s(b, "ci_lower"),
            f64s(b, "ci_upper"),
            f64s(b, "length_coverage"),
            f64s(b, "link_coverage"),
        ) else {
            continue;
        };
        for i in 0..b.num_rows() {
            if cat.value(i) != "all" || class.value(i) != "all" || !e.is_valid(i) {
                continue;
            }
            let (scale, digits, unit) = if id == "road_vkm" {
                (1e6, 1, format!(" {m}"))
            } else {
                (1.0, 0, String::new())
            };
            rows.push((
                format!("{}, {}", lang.t(label), name(muni.value(i))),
                format!(
                    "{}{unit}",
                    ci(e.value(i), lo.value(i), hi.value(i), scale, digits)
                ),
                lang.t("road_cover")
                    .replace("{len}", &lang.num(100.0 * len.value(i), 0))
                    .replace("{links}", &lang.num(100.0 * links.value(i), 0)),
            ));
        }
    }
    if rows.is_empty() {
        return;
    }
    if let Some(c) = cells(outputs, "car_vkm_year", "all", None).first() {
        rows.push((
            lang.t("survey_vkm").to_string(),
            format!(
                "{} {m}",
                ci(
                    c.est,
                    c.lo.unwrap_or(f64::NAN),
                    c.hi.unwrap_or(f64::NAN),
                    1e6,
                    1
                )
            ),
            lang.t("survey_cover").to_string(),
        ));
    }
    if let Some(c) = cells(outputs, "co2e_total_tonnes", "all", Some("mode"))
        .into_iter()
        .find(|c| c.key.as_deref() == Some("car_driver"))
    {
        rows.push((
            lang.t("survey_co2e").to_string(),
            ci(
                c.est,
                c.lo.unwrap_or(f64::NAN),
                c.hi.unwrap_or(f64::NAN),
                1.0,
                0,
            ),
            lang.t("survey_cover").to_string(),
        ));
    }
    let _ = write!(
        body,
        "<h3>{}</h3><table class=\"road\" data-table=\"road\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("road"),
        lang.t("road_what"),
        lang.t("road_value"),
        lang.t("road_covers")
    );
    for (what, value, covers) in rows {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&what),
            esc(&value),
            esc(&covers)
        );
    }
    body.push_str("</table>\n");
}

/// Writes the report of a run.
pub async fn render(
    ctx: &SessionContext,
    outputs: &HashMap<String, RecordBatch>,
    manifest: &Manifest,
    lang: Lang,
) -> Result<String> {
    let mut body = String::new();
    // Targets.
    let _ = write!(body, "<h2>{}</h2>", lang.t("targets"));
    if let Some(t) = outputs.get("targets") {
        let title_nb = utf8(t, "title_nb");
        let (units, codes) = (utf8(t, "unit"), utf8(t, "status_code"));
        let (title, target, measured, lo, hi, gap, status, year) = (
            utf8(t, "title"),
            f64s(t, "target_value"),
            f64s(t, "measured"),
            f64s(t, "ci_lower"),
            f64s(t, "ci_upper"),
            f64s(t, "gap"),
            utf8(t, "status"),
            utf8(t, "year"),
        );
        if let (
            Some(title),
            Some(target),
            Some(measured),
            Some(lo),
            Some(hi),
            Some(gap),
            Some(status),
            Some(year),
        ) = (title, target, measured, lo, hi, gap, status, year)
        {
            let _ = write!(
                body,
                "<table class=\"targets\"><tr><th></th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                lang.t("year"),
                lang.t("target"),
                lang.t("measured"),
                lang.t("ci"),
                lang.t("gap"),
                lang.t("status")
            );
            for i in 0..t.num_rows() {
                // The target's unit (`share`, `percent` or a unit to write after the number).
                let unit_code = units.as_ref().map_or("", |u| u.value(i));
                let (s, unit) = match unit_code {
                    "share" => (100.0, "\u{a0}%".to_string()),
                    "percent" => (1.0, "\u{a0}%".to_string()),
                    "" => (1.0, String::new()),
                    u => (1.0, format!("\u{a0}{}", esc(u))),
                };
                let v = |a: &arrow::array::Float64Array| {
                    if a.is_valid(i) {
                        format!("{}{unit}", lang.num(a.value(i) * s, 1))
                    } else {
                        "–".into()
                    }
                };
                let ci = if lo.is_valid(i) {
                    format!("{} – {}", v(&lo), v(&hi))
                } else {
                    "–".into()
                };
                let class = match codes.as_ref().map_or("", |c| c.value(i)) {
                    "met" => "met",
                    "not_met" => "notmet",
                    _ => "open",
                };
                let shown_title = match (lang, &title_nb) {
                    (Lang::Nb, Some(nb)) if nb.is_valid(i) => nb.value(i),
                    _ => title.value(i),
                };
                let status_nb = utf8(t, "status_nb");
                let shown_status = match (lang, &status_nb) {
                    (Lang::Nb, Some(nb)) => nb.value(i).to_string(),
                    _ => status.value(i).to_string(),
                };
                // A count-based trend beside the value (the bike target: the bicycle points).
                let trend = utf8(
                    t,
                    if lang == Lang::Nb {
                        "trend_nb"
                    } else {
                        "trend"
                    },
                )
                .or_else(|| utf8(t, "trend"))
                .filter(|c| c.is_valid(i))
                .map(|c| format!("<br><small>{}</small>", esc(c.value(i))))
                .unwrap_or_default();
                let _ = write!(
                    body,
                    "<tr><td>{}{trend}</td><td>{}</td><td>{}</td><td>{}</td><td>{ci}</td><td>{}</td><td class=\"{class}\">{}</td></tr>",
                    esc(shown_title),
                    esc(year.value(i)),
                    v(&target),
                    v(&measured),
                    v(&gap),
                    esc(&shown_status),
                );
            }
            body.push_str("</table>");
        }
    }

    // Travel behaviour.
    let _ = write!(body, "<h2>{}</h2>", lang.t("travel"));
    figure(
        &mut body,
        "mode_share_trips",
        lang.t("mode_trips"),
        mode_bars(
            cells(outputs, "mode_share_trips", "all", Some("mode")),
            lang,
        ),
        lang,
    );
    figure(
        &mut body,
        "mode_share_km",
        lang.t("mode_km"),
        mode_bars(cells(outputs, "mode_share_km", "all", Some("mode")), lang),
        lang,
    );
    let band_cells = cells(outputs, "mode_share_trips", "distance_band", Some("mode"));
    let bands_svg = (!band_cells.is_empty()).then(|| {
        let mut modes: BTreeMap<String, f64> = BTreeMap::new();
        for c in &band_cells {
            *modes.entry(c.key.clone().unwrap_or_default()).or_default() += c.est;
        }
        let mut series: Vec<String> = modes.keys().cloned().collect();
        series.sort_by(|a, b| modes[b].total_cmp(&modes[a]));
        // The six largest modes, the rest together (one colour each).
        let rest: Vec<String> = series.split_off(series.len().min(6));
        let rows: Vec<(String, Vec<f64>)> = mobility_sql::functions::BANDS
            .iter()
            .map(|(_, band)| {
                let share = |m: &str| {
                    band_cells
                        .iter()
                        .find(|c| c.value.as_deref() == Some(*band) && c.key.as_deref() == Some(m))
                        .map_or(0.0, |c| c.est)
                };
                let mut shares: Vec<f64> = series.iter().map(|m| share(m)).collect();
                if !rest.is_empty() {
                    shares.push(rest.iter().map(|m| share(m)).sum());
                }
                (lang.label(band), shares)
            })
            .filter(|(_, s): &(String, Vec<f64>)| s.iter().sum::<f64>() > 0.0)
            .collect();
        let mut names: Vec<String> = series.iter().map(|m| mode_label(lang, m)).collect();
        if !rest.is_empty() {
            names.push(mode_label(lang, "other"));
        }
        let segments: usize = rows.iter().map(|(_, shares)| shares.len()).sum();
        (svg::stacked(&rows, &names, lang.decimal()), segments)
    });
    figure(
        &mut body,
        "distance_bands",
        lang.t("bands"),
        bands_svg,
        lang,
    );
    let zones = collect_if(
        ctx,
        &["zones"],
        "report: zones",
        "SELECT zone_id, name, geometry FROM zones",
    )
    .await?;
    let mut zone_geoms: Vec<(String, String, MultiPolygon<f64>)> = Vec::new();
    // Zones whose geometry does not decode: named under the map, not left out unseen.
    let mut undrawn: Vec<String> = Vec::new();
    for b in &zones {
        let (id, name) = (utf8(b, "zone_id"), utf8(b, "name"));
        let g = arrow::compute::cast(b.column(2), &DataType::Binary).map_err(Error::from)?;
        let g = g.as_binary::<i32>();
        if let (Some(id), Some(name)) = (id, name) {
            for i in 0..b.num_rows() {
                match mobility_geo::Zone::from_wkb(id.value(i), "", g.value(i)) {
                    Ok(Some(z)) => {
                        let n = if name.is_valid(i) {
                            name.value(i).to_string()
                        } else {
                            String::new()
                        };
                        zone_geoms.push((id.value(i).to_string(), n, z.geometry));
                    }
                    // Not an area (a point or a line): not a zone of the map.
                    Ok(None) => {}
                    Err(e) => undrawn.push(format!("{} ({e})", id.value(i))),
                }
            }
        }
    }
    let home = cells(outputs, "sustainable_share", "home_zone", None);
    let map_zones: Vec<MapZone> = home
        .iter()
        .filter_map(|c| {
            let id = c.value.as_deref()?;
            let (_, name, g) = zone_geoms.iter().find(|z| z.0 == id)?;
            Some(MapZone {
                label: if name.is_empty() {
                    id.to_string()
                } else {
                    format!("{id} {name}")
                },
                geometry: g.clone(),
                value: Some(c.est),
                suppressed: c.suppressed,
            })
        })
        .collect();
    figure(
        &mut body,
        "map_zones",
        lang.t("map_zones"),
        (!map_zones.is_empty()).then(|| {
            (
                svg::map(&map_zones, &[], "%", 100.0, 0, lang.decimal()),
                map_zones.len(),
            )
        }),
        lang,
    );
    let _ = write!(body, r#"<p class="note">{}</p>"#, lang.t("suppressed"));
    if !undrawn.is_empty() {
        let _ = write!(
            body,
            r#"<p class="note" data-undrawn="{}">{}: {}</p>"#,
            undrawn.len(),
            lang.t("undrawn"),
            esc(&undrawn.join("; "))
        );
    }
    od_flows(&mut body, outputs, &zone_geoms, lang);

    // Emissions.
    let _ = write!(body, "<h2>{}</h2>", lang.t("emissions"));
    let co2 = cells(outputs, "co2e_by_mode", "all", Some("mode"));
    let co2_svg = (!co2.is_empty()).then(|| {
        let mut c: Vec<Cell> = co2.into_iter().filter(|c| c.est > 0.0).collect();
        c.sort_by(|a, b| b.est.total_cmp(&a.est));
        let bars: Vec<Bar> = c
            .into_iter()
            .map(|c| Bar {
                label: mode_label(lang, &c.key.unwrap_or_default()),
                value: c.est,
                lo: c.lo,
                hi: c.hi,
                suppressed: c.suppressed,
            })
            .collect();
        (svg::bars(&bars, 1.0, "kg", 0, lang.decimal()), bars.len())
    });
    figure(&mut body, "co2e_by_mode", lang.t("co2_mode"), co2_svg, lang);
    let sc = cells(
        outputs,
        "scenario_shift_short_car_trips",
        "all",
        Some("measure"),
    );
    let sc_svg = (!sc.is_empty()).then(|| {
        let get = |m: &str| {
            sc.iter()
                .find(|c| c.key.as_deref() == Some(m))
                .map(|c| c.est)
        };
        let mut bars = Vec::new();
        for (base, change, label, scale) in [
            (
                "vehicle_km_per_day_baseline",
                "vehicle_km_per_day_change",
                lang.t("vkm"),
                1.0,
            ),
            (
                "co2e_kg_per_year_baseline",
                "co2e_kg_per_year_change",
                lang.t("co2"),
                1.0,
            ),
        ] {
            if let (Some(b), Some(c)) = (get(base), get(change)) {
                bars.push(Bar {
                    label: format!("{label}, {}", lang.t("baseline")),
                    value: b * scale,
                    lo: None,
                    hi: None,
                    suppressed: false,
                });
                bars.push(Bar {
                    label: format!("{label}, {}", lang.t("after")),
                    value: (b + c) * scale,
                    lo: None,
                    hi: None,
                    suppressed: false,
                });
            }
        }
        (svg::bars(&bars, 1.0, "", 1, lang.decimal()), bars.len())
    });
    figure(&mut body, "scenario", lang.t("scenario"), sc_svg, lang);
    road_table(&mut body, outputs, &zone_geoms, lang);

    // Traffic.
    let _ = write!(body, "<h2>{}</h2>", lang.t("traffic"));
    let index_svg = outputs.get("traffic_index_rolling").and_then(|r| {
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
        let mut months: Vec<String> = rows
            .iter()
            .filter_map(|&i| year_month(last.value(i)))
            .map(str::to_string)
            .collect();
        months.sort();
        months.dedup();
        let windows: std::collections::BTreeSet<String> =
            rows.iter().map(|&i| window.value(i).to_string()).collect();
        let lines: Vec<Line> = windows
            .iter()
            .map(|w| {
                let at = |m: &str| {
                    rows.iter()
                        .copied()
                        .find(|&i| window.value(i) == w && year_month(last.value(i)) == Some(m))
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
        (!lines.is_empty()).then(|| {
            (
                svg::lines(&months, &lines, "%", lang.decimal()),
                line_points(&lines),
            )
        })
    });
    figure(&mut body, "traffic_index", lang.t("index"), index_svg, lang);
    // Profiles name the points when traffic_points has them.
    let (name, names) = if ctx.table_exist("traffic_points").unwrap_or(false) {
        (
            "COALESCE(p.name, t.trp_id)",
            "LEFT JOIN traffic_points p ON p.trp_id = t.trp_id",
        )
    } else {
        ("t.trp_id", "")
    };
    let hourly = collect_if(
        ctx,
        &["traffic_hourly"],
        "report: hourly profile",
        &format!(
            "SELECT {name} AS trp_id, CAST(date_part('hour', to_local_time(t.hour_start AT TIME ZONE 'Europe/Oslo')) AS BIGINT) AS hour, avg(t.volume) AS v \
             FROM traffic_hourly t {names} WHERE t.scope = 'total' AND t.coverage_pct >= 99 \
             AND day_type(CAST(to_local_time(t.hour_start AT TIME ZONE 'Europe/Oslo') AS DATE)) = 'weekday' GROUP BY 1, 2"
        ),
    )
    .await?;
    let profile = |batches: &[RecordBatch], n: usize, labels: Vec<String>| -> Option<Chart> {
        let mut per: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
        for b in batches {
            let (p, x, v) = (
                utf8(b, "trp_id")?,
                f64s(b, "x").or_else(|| f64s(b, "hour"))?,
                f64s(b, "v")?,
            );
            for i in 0..b.num_rows() {
                let e = per
                    .entry(p.value(i).to_string())
                    .or_insert_with(|| vec![None; n]);
                let k = x.value(i) as usize;
                if k < n && v.is_valid(i) {
                    e[k] = Some(v.value(i));
                }
            }
        }
        let lines: Vec<Line> = per
            .into_iter()
            .take(8)
            .map(|(name, values)| Line {
                name,
                values,
                band: None,
            })
            .collect();
        (!lines.is_empty()).then(|| {
            (
                svg::lines(&labels, &lines, "", lang.decimal()),
                line_points(&lines),
            )
        })
    };
    figure(
        &mut body,
        "hourly_profile",
        lang.t("hourly"),
        profile(&hourly, 24, (0..24).map(|h| format!("{h:02}")).collect()),
        lang,
    );
    let weekly = collect_if(
        ctx,
        &["traffic_daily"],
        "report: weekday profile",
        &format!(
            "SELECT {name} AS trp_id, CAST((date_part('dow', t.date) + 6) % 7 AS DOUBLE) AS x, avg(t.volume) AS v \
             FROM traffic_daily t {names} WHERE t.coverage_pct >= 95 GROUP BY 1, 2"
        ),
    )
    .await?;
    let days = match lang {
        Lang::Nb => ["man", "tir", "ons", "tor", "fre", "lør", "søn"],
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    };
    figure(
        &mut body,
        "weekday_profile",
        lang.t("weekday"),
        profile(&weekly, 7, days.iter().map(|d| d.to_string()).collect()),
        lang,
    );
    let pts = collect_if(
        ctx,
        &["traffic_points", "traffic_adt"],
        "report: counting points",
        "SELECT p.name, p.lon, p.lat, a.adt FROM traffic_points p JOIN traffic_adt a ON a.trp_id = p.trp_id \
         WHERE a.day_type = 'all' AND a.adt IS NOT NULL AND p.lon IS NOT NULL \
         AND a.year = (SELECT max(year) FROM traffic_adt WHERE adt IS NOT NULL)",
    )
    .await?;
    let mut points = Vec::new();
    for b in &pts {
        if let (Some(n), Some(x), Some(y), Some(v)) = (
            utf8(b, "name"),
            f64s(b, "lon"),
            f64s(b, "lat"),
            f64s(b, "adt"),
        ) {
            for i in 0..b.num_rows() {
                points.push(MapPoint {
                    label: n.value(i).to_string(),
                    lon: x.value(i),
                    lat: y.value(i),
                    size: v.value(i),
                });
            }
        }
    }
    let outline: Vec<MapZone> = zone_geoms
        .iter()
        .map(|(id, name, g)| MapZone {
            label: format!("{id} {name}"),
            geometry: g.clone(),
            value: None,
            suppressed: false,
        })
        .collect();
    figure(
        &mut body,
        "map_points",
        lang.t("map_points"),
        (!points.is_empty()).then(|| {
            (
                svg::map(&outline, &points, "", 1.0, 0, lang.decimal()),
                points.len(),
            )
        }),
        lang,
    );

    // Methods.
    let _ = write!(
        body,
        "<h2>{}</h2><p>{}</p><p>{}</p>",
        lang.t("methods"),
        lang.t("est_text"),
        lang.t("idx_text")
    );
    let _ = write!(
        body,
        "<h3>{}</h3><table><tr><th>table</th><th>{}</th></tr>",
        lang.t("inputs"),
        lang.t("rows")
    );
    for (t, n) in &manifest.table_rows {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(t),
            lang.num(*n as f64, 0)
        );
    }
    body.push_str("</table>");
    let factors = collect_if(
        ctx,
        &["emission_factors"],
        "report: emission factors",
        "SELECT year, mode, fuel, g_co2e_per_vkm, g_co2e_per_pkm, source FROM emission_factors ORDER BY mode, fuel, year",
    )
    .await?;
    if !factors.is_empty() {
        let _ = write!(
            body,
            "<h3>{}</h3><table class=\"small\"><tr><th>year</th><th>mode</th><th>fuel</th><th>g/vkm</th><th>g/pkm</th><th>source</th></tr>",
            lang.t("factors")
        );
        for b in &factors {
            let texts: Vec<_> = ["year", "mode", "fuel", "source"]
                .iter()
                .filter_map(|c| utf8(b, c))
                .collect();
            let grams: Vec<_> = ["g_co2e_per_vkm", "g_co2e_per_pkm"]
                .iter()
                .filter_map(|c| f64s(b, c))
                .collect();
            if texts.len() < 4 || grams.len() < 2 {
                continue;
            }
            let text = |c: &arrow::array::StringArray, i: usize| {
                if c.is_valid(i) {
                    esc(c.value(i))
                } else {
                    String::new()
                }
            };
            let gram = |c: &arrow::array::Float64Array, i: usize| {
                if c.is_valid(i) {
                    lang.num(c.value(i), 1)
                } else {
                    String::new()
                }
            };
            for i in 0..b.num_rows() {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    text(&texts[0], i),
                    text(&texts[1], i),
                    text(&texts[2], i),
                    gram(&grams[0], i),
                    gram(&grams[1], i),
                    text(&texts[3], i),
                );
            }
        }
        body.push_str("</table>");
    }
    let _ = write!(
        body,
        "<p class=\"note\">{} {} · data: {} · {} s</p>",
        lang.t("generated"),
        esc(&manifest.version),
        esc(&manifest.data),
        lang.num(manifest.seconds_total, 1)
    );
    Ok(format!(
        r#"<!DOCTYPE html>
<html lang="{lang_attr}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
h1 {{ font-size: 1.8rem; margin-bottom: 0.2rem; }} h2 {{ border-bottom: 2px solid #0072B2; padding-bottom: 0.2rem; margin-top: 2.2rem; }}
table {{ border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }} th, td {{ border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }}
table.small {{ font-size: 0.8rem; }} td.met {{ color: #007a4d; font-weight: 600; }} td.notmet {{ color: #b00020; font-weight: 600; }} td.open {{ color: #8a6d00; }}
figure {{ margin: 1.2rem 0; break-inside: avoid; }} figcaption {{ font-weight: 600; margin-bottom: 0.3rem; }} p.none, p.note {{ color: #666; font-size: 0.85rem; }}
@media print {{ body {{ margin: 0; max-width: none; }} h2 {{ break-after: avoid; }} }}
</style></head>
<body>
<h1>{title}</h1>
{body}
<script>
window.addEventListener("load", function () {{
  var figs = document.querySelectorAll("figure[data-chart]"), empty = [], marks = [], wrong = [];
  figs.forEach(function (f) {{
    var s = f.querySelector("svg"), n = 0;
    if (s) s.querySelectorAll(".mark").forEach(function (m) {{
      n += m.points ? m.points.numberOfItems : 1;
    }});
    marks.push(f.dataset.chart + "=" + n);
    if (n === 0) empty.push(f.dataset.chart);
    else if (String(n) !== f.dataset.rows) wrong.push(f.dataset.chart + " " + n + " of " + f.dataset.rows);
  }});
  document.body.dataset.charts = figs.length;
  document.body.dataset.empty = empty.join(",");
  document.body.dataset.marks = marks.join(",");
  document.body.dataset.wrong = wrong.join(",");
  if (empty.length) console.error("charts without marks: " + empty.join(", "));
  if (wrong.length) console.error("charts whose marks are not their data: " + wrong.join(", "));
}});
</script>
</body></html>
"#,
        lang_attr = if lang == Lang::Nb { "nb" } else { "en" },
        title = lang.t("title"),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BinaryArray, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[tokio::test]
    async fn a_zone_whose_geometry_does_not_decode_is_named_under_the_map() {
        let square = geo::Geometry::Polygon(geo::Polygon::new(
            geo::LineString::from(vec![(10.0, 59.0), (10.1, 59.0), (10.1, 59.1), (10.0, 59.0)]),
            vec![],
        ));
        let good = mobility_geo::wkb::to_wkb(&square).unwrap();
        let zones = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("zone_id", DataType::Utf8, false),
                Field::new("name", DataType::Utf8, true),
                Field::new("geometry", DataType::Binary, false),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["3201", "3203"])),
                Arc::new(StringArray::from(vec!["Bærum", "Asker"])),
                Arc::new(BinaryArray::from(vec![good.as_slice(), &[1, 3, 0]])),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        ctx.register_batch("zones", zones).unwrap();
        let manifest = Manifest {
            version: "test".into(),
            data: "memory".into(),
            inputs: Vec::new(),
            table_rows: Default::default(),
            parameters: serde_json::json!({}),
            indicators: Vec::new(),
            seconds_total: 0.0,
        };
        let html = render(&ctx, &HashMap::new(), &manifest, Lang::En)
            .await
            .unwrap();
        assert!(html.contains("data-undrawn=\"1\""), "one zone named");
        let note = &html[html.find("data-undrawn").unwrap()..];
        let note = &note[..note.find("</p>").unwrap()];
        assert!(note.contains("3203 (") && !note.contains("3201"), "{note}");
    }

    #[test]
    fn months_come_from_iso_dates_only() {
        assert_eq!(year_month("2024-05-01"), Some("2024-05"));
        assert_eq!(year_month("2024-05"), Some("2024-05"));
        for bad in [
            "",
            "2024",
            "2024/05/01",
            "mai 2024",
            "2024-5-01",
            "ø2024-05",
        ] {
            assert_eq!(year_month(bad), None, "{bad}");
        }
    }

    #[test]
    fn category_labels_take_the_languages_decimal_mark() {
        assert_eq!(Lang::Nb.label("2.5-5 km"), "2,5-5 km");
        assert_eq!(Lang::Nb.label("<1 km"), "<1 km");
        assert_eq!(Lang::Nb.label("v.2. 5"), "v.2. 5");
        assert_eq!(Lang::En.label("2.5-5 km"), "2.5-5 km");
    }
}
