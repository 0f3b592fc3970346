//! Synthetic counting points and their hourly counts, written exactly as trafikkdata.no
//! exports them (ISO-8859-1, `;`, decimal comma, `-` for missing, local time with offset, rows
//! per lane, per direction and in total), with weekday, hourly and seasonal profiles, a trend
//! over the years, outages (hours with `-`) and hours of low coverage.
//!
//! The first eight points are Bærum's. Beyond them, points are spread over Norway: around 49
//! towns and rural municipalities, each with its own traffic level and its own profile (a
//! commuter town's rush hours, a mountain resort's winter season, a coastal destination's
//! summer), so that a national index has something to weigh.

use std::fmt::Write;

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Europe::Oslo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// A synthetic counting point.
#[derive(Debug, Clone)]
pub struct CountPoint {
    pub trp_id: String,
    pub name: String,
    pub road_reference: String,
    pub lon: f64,
    pub lat: f64,
    /// Annual average daily traffic in the first year.
    pub aadt: f64,
    /// Growth per year (e.g. -0.005).
    pub trend: f64,
    /// Share of vehicles of 5.6 m or more.
    pub heavy: f64,
    /// Direction names: lane 1 (odd, with the metering direction) and lane 2.
    pub directions: [&'static str; 2],
    /// How its traffic varies over the year, the week and the day.
    pub profile: Profile,
}

/// How a place's traffic varies: a factor per month and per weekday, and the weight of the
/// weekday rush hours in the day's profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub month: [f64; 12],
    pub dow: [f64; 7],
    /// 1 in a commuter town; lower where traffic is mostly leisure.
    pub commute: f64,
}

impl Profile {
    /// The Bærum profile: commuting, a dip in July.
    pub fn commuter() -> Self {
        Self {
            month: MONTH,
            dow: DOW,
            commute: 1.0,
        }
    }

    /// The profile of a place of `kind`, varied by `rng` so that no two places are alike.
    fn of(kind: Kind, rng: &mut impl Rng) -> Self {
        let (month, dow, commute) = match kind {
            Kind::City | Kind::Town => (MONTH, DOW, 0.9 + 0.3 * rng.random::<f64>()),
            Kind::Rural => (RURAL_MONTH, DOW, 0.5 + 0.3 * rng.random::<f64>()),
            Kind::Summer => (SUMMER_MONTH, LEISURE_DOW, 0.2 + 0.2 * rng.random::<f64>()),
            Kind::Winter => (WINTER_MONTH, LEISURE_DOW, 0.2 + 0.2 * rng.random::<f64>()),
        };
        let mut jitter = |v: f64| v * (0.95 + 0.1 * rng.random::<f64>());
        Self {
            month: month.map(&mut jitter),
            dow: dow.map(&mut jitter),
            commute,
        }
    }

    /// Share of the day's traffic in each hour, on weekdays (`[0]`) and weekends (`[1]`).
    fn hours(&self) -> [[f64; 24]; 2] {
        [false, true].map(|weekend| {
            let raw: [f64; 24] =
                std::array::from_fn(|h| hour_weight(weekend, h as f64, self.commute));
            let total: f64 = raw.iter().sum();
            raw.map(|v| v / total)
        })
    }
}

/// What kind of place a municipality is, for its traffic profile.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    City,
    Town,
    Rural,
    /// A destination in summer (fjords, Lofoten).
    Summer,
    /// A ski resort.
    Winter,
}

/// Places of Norway (municipality, latitude, longitude, kind) for points beyond Bærum's.
/// Coordinates are approximate town centres; the data are synthetic.
const PLACES: &[(&str, f64, f64, Kind)] = &[
    ("Oslo", 59.91, 10.75, Kind::City),
    ("Bergen", 60.39, 5.32, Kind::City),
    ("Trondheim", 63.43, 10.39, Kind::City),
    ("Stavanger", 58.97, 5.73, Kind::City),
    ("Kristiansand", 58.15, 8.00, Kind::City),
    ("Drammen", 59.74, 10.20, Kind::City),
    ("Fredrikstad", 59.22, 10.93, Kind::Town),
    ("Sandnes", 58.85, 5.74, Kind::Town),
    ("Tromsø", 69.65, 18.96, Kind::Town),
    ("Sarpsborg", 59.28, 11.11, Kind::Town),
    ("Skien", 59.21, 9.61, Kind::Town),
    ("Ålesund", 62.47, 6.15, Kind::Town),
    ("Bodø", 67.28, 14.40, Kind::Town),
    ("Sandefjord", 59.13, 10.22, Kind::Town),
    ("Larvik", 59.05, 10.03, Kind::Town),
    ("Tønsberg", 59.27, 10.41, Kind::Town),
    ("Arendal", 58.46, 8.77, Kind::Town),
    ("Haugesund", 59.41, 5.27, Kind::Town),
    ("Moss", 59.43, 10.66, Kind::Town),
    ("Porsgrunn", 59.14, 9.66, Kind::Town),
    ("Hamar", 60.79, 11.07, Kind::Town),
    ("Lillehammer", 61.12, 10.47, Kind::Town),
    ("Gjøvik", 60.80, 10.69, Kind::Town),
    ("Molde", 62.74, 7.16, Kind::Town),
    ("Kongsberg", 59.67, 9.65, Kind::Town),
    ("Harstad", 68.80, 16.54, Kind::Town),
    ("Halden", 59.12, 11.39, Kind::Town),
    ("Kristiansund", 63.11, 7.73, Kind::Town),
    ("Alta", 69.97, 23.27, Kind::Rural),
    ("Rana", 66.31, 14.14, Kind::Rural),
    ("Steinkjer", 64.01, 11.50, Kind::Rural),
    ("Elverum", 60.88, 11.56, Kind::Rural),
    ("Narvik", 68.44, 17.43, Kind::Rural),
    ("Sunnfjord", 61.45, 5.85, Kind::Rural),
    ("Sør-Varanger", 69.73, 30.05, Kind::Rural),
    ("Hammerfest", 70.66, 23.68, Kind::Rural),
    ("Namsos", 64.47, 11.50, Kind::Rural),
    ("Levanger", 63.75, 11.30, Kind::Rural),
    ("Eigersund", 58.45, 6.00, Kind::Rural),
    ("Lindesnes", 58.03, 7.46, Kind::Rural),
    ("Voss", 60.63, 6.42, Kind::Summer),
    ("Lom", 61.84, 8.57, Kind::Summer),
    ("Vågan", 68.23, 14.57, Kind::Summer),
    ("Stryn", 61.90, 6.72, Kind::Summer),
    ("Ullensvang", 60.07, 6.55, Kind::Summer),
    ("Sogndal", 61.23, 7.10, Kind::Summer),
    ("Hol", 60.53, 8.21, Kind::Winter),
    ("Trysil", 61.31, 12.26, Kind::Winter),
    ("Røros", 62.57, 11.38, Kind::Winter),
];

const POINTS: &[(&str, &str, f64, f64, f64, [&str; 2])] = &[
    (
        "Sandvika øst",
        "EV18 S60D1 m4030",
        10.532,
        59.892,
        62_000.0,
        ["OSLO", "DRAMMEN"],
    ),
    (
        "Høvik bru",
        "EV18 S53D1 m2165",
        10.572,
        59.898,
        55_000.0,
        ["OSLO", "SANDVIKA"],
    ),
    (
        "Bekkestua",
        "FV160 S1D1 m2896",
        10.588,
        59.918,
        21_000.0,
        ["OSLO", "BEKKESTUA"],
    ),
    (
        "Kolsåsveien",
        "FV1300 S1D1 m1250",
        10.452,
        59.930,
        9_500.0,
        ["KOLSÅS", "SANDVIKA"],
    ),
    (
        "Fornebuveien",
        "FV541 S1D1 m812",
        10.618,
        59.902,
        18_000.0,
        ["FORNEBU", "LYSAKER"],
    ),
    (
        "Lommedalsveien",
        "FV168 S2D1 m2100",
        10.478,
        59.950,
        7_000.0,
        ["LOMMEDALEN", "BÆRUMS VERK"],
    ),
    (
        "Stabekk ved jernbanen",
        "FV1630 S1D1 m2526",
        10.606,
        59.909,
        6_500.0,
        ["STABEKK", "JAR"],
    ),
    (
        "Gjettum",
        "FV1302 S1D1 m640",
        10.498,
        59.913,
        8_000.0,
        ["GJETTUM", "SANDVIKA"],
    ),
];

/// The most counting points `points` makes (Norway has about 8,800 with hourly counts).
pub const MAX_POINTS: usize = 10_000;

/// A point's id as trafikkdata.no writes them (`12345V678901`), distinct for `i < 90,000`.
fn trp_id(i: usize) -> String {
    format!("{:05}V{}", 10_000 + i * 7919 % 90_000, 443_600 + i * 37)
}

/// `n` counting points (at most [`MAX_POINTS`]): Bærum's eight first, then points around
/// Norway's places. The same `n` and seed give the same points, and the first `k` of `n` points
/// are the `k` points of `points(k, seed)`.
pub fn points(n: usize, seed: u64) -> Vec<CountPoint> {
    let n = n.min(MAX_POINTS);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_7AFF);
    let mut out: Vec<CountPoint> = POINTS
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, (name, road, lon, lat, aadt, dirs))| CountPoint {
            trp_id: trp_id(i),
            name: (*name).into(),
            road_reference: (*road).into(),
            lon: *lon,
            lat: *lat,
            aadt: aadt * (0.9 + 0.2 * rng.random::<f64>()),
            trend: -0.012 + 0.02 * rng.random::<f64>(),
            heavy: if road.starts_with("EV") { 0.09 } else { 0.05 } + 0.02 * rng.random::<f64>(),
            directions: *dirs,
            profile: Profile::commuter(),
        })
        .collect();
    if n > out.len() {
        out.extend(national(out.len(), n, seed));
    }
    out
}

/// Points `from..n` around Norway's places: each place has its own level and profile, each
/// point its road, size and trend.
fn national(from: usize, n: usize, seed: u64) -> Vec<CountPoint> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4E4F_5247);
    let places: Vec<(f64, Profile)> = PLACES
        .iter()
        .map(|(_, _, _, kind)| {
            let size = match kind {
                Kind::City => 2.0,
                Kind::Town => 1.0,
                Kind::Rural => 0.5,
                Kind::Summer | Kind::Winter => 0.6,
            };
            (
                size * (0.7 + 0.6 * rng.random::<f64>()),
                Profile::of(*kind, &mut rng),
            )
        })
        .collect();
    let weights: Vec<f64> = places.iter().map(|(level, _)| *level).collect();
    let total: f64 = weights.iter().sum();
    (from..n)
        .map(|i| {
            // A place drawn in proportion to its level: cities have more counting points.
            let mut u = rng.random::<f64>() * total;
            let k = weights
                .iter()
                .position(|w| {
                    u -= w;
                    u <= 0.0
                })
                .unwrap_or(weights.len() - 1);
            let (place, lat, lon, _) = PLACES[k];
            let (level, profile) = &places[k];
            let (road, base, heavy) = match rng.random::<f64>() {
                r if r < 0.2 => (
                    format!("EV{}", [6, 18, 39, 134, 136][i % 5]),
                    14_000.0,
                    0.12,
                ),
                r if r < 0.45 => (format!("RV{}", [2, 3, 4, 7, 9, 15][i % 6]), 6_000.0, 0.10),
                _ => (format!("FV{}", 100 + i % 900), 2_500.0, 0.06),
            };
            let lognormal = (0.5 * normal(&mut rng)).exp();
            CountPoint {
                trp_id: trp_id(i),
                name: format!("{place} {}", i - from + 1),
                road_reference: format!("{road} S1D1 m{}", 100 + (i * 37) % 9_000),
                lon: lon + 0.6 * (rng.random::<f64>() - 0.5),
                lat: lat + 0.3 * (rng.random::<f64>() - 0.5),
                aadt: (base * level * lognormal).max(200.0),
                trend: -0.012 + 0.03 * rng.random::<f64>(),
                heavy: heavy * (0.7 + 0.6 * rng.random::<f64>()),
                directions: if i % 2 == 0 {
                    ["NORD", "SØR"]
                } else {
                    ["ØST", "VEST"]
                },
                profile: profile.clone(),
            }
        })
        .collect()
}

/// The trafikkdata GraphQL answer for `trafficRegistrationPoints` with these points.
pub fn points_json(points: &[CountPoint]) -> String {
    let list: Vec<serde_json::Value> = points
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.trp_id,
                "name": p.name,
                "location": {
                    "coordinates": {"latLon": {"lat": p.lat, "lon": p.lon}},
                    "roadReference": {"shortForm": p.road_reference},
                },
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({"data": {"trafficRegistrationPoints": list}}))
        .expect("JSON of values")
}

/// The export header, as trafikkdata.no writes it.
pub const HEADER: &str = "Trafikkregistreringspunkt;Navn;Vegreferanse;Fra;Til;Dato;Fra tidspunkt;Til tidspunkt;Felt;Trafikkmengde;Dekningsgrad (%);Antall timer total;Antall timer inkludert;Antall timer ugyldig;Ikke gyldig lengde;Lengdekvalitetsgrad (%);< 5,6m;>= 5,6m;5,6m - 7,6m;7,6m - 12,5m;12,5m - 16,0m;>= 16,0m;16,0m - 24,0m;>= 24,0m";

const MONTH: [f64; 12] = [
    0.88, 0.92, 0.97, 1.00, 1.04, 1.08, 0.92, 1.04, 1.05, 1.04, 1.01, 0.95,
];
const DOW: [f64; 7] = [1.05, 1.06, 1.06, 1.07, 1.08, 0.88, 0.80];
const RURAL_MONTH: [f64; 12] = [
    0.80, 0.84, 0.90, 0.97, 1.05, 1.15, 1.22, 1.15, 1.02, 0.96, 0.90, 0.85,
];
const SUMMER_MONTH: [f64; 12] = [
    0.62, 0.66, 0.74, 0.86, 1.05, 1.45, 1.80, 1.55, 1.05, 0.82, 0.70, 0.68,
];
const WINTER_MONTH: [f64; 12] = [
    1.25, 1.45, 1.50, 1.20, 0.70, 0.85, 1.00, 0.90, 0.70, 0.75, 0.80, 1.15,
];
const LEISURE_DOW: [f64; 7] = [0.92, 0.90, 0.92, 0.98, 1.15, 1.12, 1.01];

/// Unnormalised weight of hour `h` (0–23): rush-hour peaks of weight `commute` on weekdays.
fn hour_weight(weekend: bool, h: f64, commute: f64) -> f64 {
    let bump = |c: f64, w: f64, a: f64| a * (-((h - c) / w).powi(2)).exp();
    if weekend {
        0.15 + bump(13.5, 4.0, 1.0)
    } else {
        0.08 + commute * bump(7.8, 1.2, 1.3) + commute * bump(16.0, 1.6, 1.4) + bump(12.0, 4.0, 0.6)
    }
}

fn normal(rng: &mut impl Rng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn comma(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}").replace('.', ",")
}

/// One vehicle count split into the export's length classes.
struct Counts {
    total: i64,
    invalid: i64,
    light: i64,
    heavy: [i64; 4],
}

fn split(rng: &mut impl Rng, total: i64, heavy_share: f64) -> Counts {
    let invalid = ((total as f64) * 0.004 * rng.random::<f64>() * 2.0).round() as i64;
    let valid = total - invalid;
    let heavy = ((valid as f64) * heavy_share * (0.8 + 0.4 * rng.random::<f64>())).round() as i64;
    let h1 = (heavy as f64 * 0.45).round() as i64;
    let h2 = (heavy as f64 * 0.30).round() as i64;
    let h3 = (heavy as f64 * 0.10).round() as i64;
    Counts {
        total,
        invalid,
        light: valid - heavy,
        heavy: [h1, h2, h3, heavy - h1 - h2 - h3],
    }
}

/// The fields an hour's rows share: point, name, road, from, to, date, from and to times.
fn hour_prefix(
    p: &CountPoint,
    start: chrono::DateTime<chrono_tz::Tz>,
    end: chrono::DateTime<chrono_tz::Tz>,
) -> String {
    format!(
        "{};{};{};{};{};{};{};{};",
        p.trp_id,
        p.name,
        p.road_reference,
        start.format("%Y-%m-%dT%H:%M%:z"),
        end.format("%Y-%m-%dT%H:%M%:z"),
        start.format("%Y-%m-%d"),
        start.format("%H:%M"),
        end.format("%H:%M"),
    )
}

fn row(out: &mut String, prefix: &str, felt: &str, c: Option<&Counts>, coverage: f64) {
    out.push_str(prefix);
    out.push_str(felt);
    out.push(';');
    match c {
        None => {
            let _ = writeln!(out, "-;0,0;1;1;0;-;-;-;-;-;-;-;-;-;-");
        }
        Some(c) => {
            let quality = if c.total == 0 {
                100.0
            } else {
                100.0 * (1.0 - c.invalid as f64 / c.total as f64)
            };
            let heavy: i64 = c.heavy.iter().sum();
            let ge16 = c.heavy[3];
            let ge24 = (ge16 as f64 * 0.2).round() as i64;
            let _ = writeln!(
                out,
                "{};{};1;1;0;{};{};{};{};{};{};{};{};{};{}",
                c.total,
                comma(coverage, 1),
                c.invalid,
                comma(quality, 2),
                c.light,
                heavy,
                c.heavy[0],
                c.heavy[1],
                c.heavy[2],
                ge16,
                ge16 - ge24,
                ge24
            );
        }
    }
}

/// The hourly export of one point for one year (UTF-8 text; the caller encodes it).
pub fn export(p: &CountPoint, year: i32, first_year: i32, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed ^ (year as u64) << 20 ^ p.trp_id.bytes().map(u64::from).sum::<u64>(),
    );
    let start = Oslo
        .with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .single()
        .expect("midnight 1 January exists");
    let end = Oslo
        .with_ymd_and_hms(year + 1, 1, 1, 0, 0, 0)
        .single()
        .expect("midnight 1 January exists");
    let hours = (end - start).num_hours();
    // Outages: two to four spells of 6 hours to 5 days each.
    let outages: Vec<(i64, i64)> = (0..rng.random_range(2..=4))
        .map(|_| {
            let s = rng.random_range(0..hours);
            (s, s + rng.random_range(6..=120))
        })
        .collect();
    let growth = (1.0 + p.trend).powi(year - first_year);
    let shares = p.profile.hours();
    let felt = [
        "1".to_string(),
        "2".to_string(),
        format!("Totalt i retning {}", p.directions[0]),
        format!("Totalt i retning {}", p.directions[1]),
        "Totalt".to_string(),
    ];
    let mut out = String::with_capacity(hours as usize * 5 * 140);
    for h in 0..hours {
        let t0 = start + chrono::Duration::hours(h);
        let t1 = t0 + chrono::Duration::hours(1);
        let prefix = hour_prefix(p, t0, t1);
        let local = t0.naive_local();
        let dow = local.weekday().num_days_from_monday() as usize;
        let mean = p.aadt
            * growth
            * p.profile.month[local.month0() as usize]
            * p.profile.dow[dow]
            * shares[usize::from(dow >= 5)][local.hour() as usize];
        if outages.iter().any(|(a, b)| (*a..*b).contains(&h)) {
            for f in &felt {
                row(&mut out, &prefix, f, None, 0.0);
            }
            continue;
        }
        // One hour in 200 is only partly counted: the volume is what was seen.
        let coverage = if rng.random::<f64>() < 0.005 {
            rng.random_range(20..95) as f64
        } else {
            100.0
        };
        let morning = local.hour() < 12 && dow < 5;
        let share_1 = if morning { 0.6 } else { 0.45 };
        let lanes: Vec<Counts> = [share_1, 1.0 - share_1]
            .iter()
            .map(|s| {
                let v = (mean * s * (1.0 + 0.08 * normal(&mut rng)) * coverage / 100.0)
                    .round()
                    .max(0.0) as i64;
                split(&mut rng, v, p.heavy)
            })
            .collect();
        let sum = Counts {
            total: lanes[0].total + lanes[1].total,
            invalid: lanes[0].invalid + lanes[1].invalid,
            light: lanes[0].light + lanes[1].light,
            heavy: [0, 1, 2, 3].map(|k| lanes[0].heavy[k] + lanes[1].heavy[k]),
        };
        for (f, c) in felt
            .iter()
            .zip([&lanes[0], &lanes[1], &lanes[0], &lanes[1], &sum])
        {
            row(&mut out, &prefix, f, Some(c), coverage);
        }
    }
    out
}

/// Every point's export for every year, in parallel, in a fixed order.
pub fn exports(points: &[CountPoint], years: &[i32], seed: u64) -> Vec<(usize, i32, String)> {
    let jobs: Vec<(usize, i32)> = (0..points.len())
        .flat_map(|i| years.iter().map(move |y| (i, *y)))
        .collect();
    let first = *years.first().unwrap_or(&2022);
    jobs.into_par_iter()
        .map(|(i, y)| (i, y, export(&points[i], y, first, seed)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_shares_sum_to_one() {
        for p in points(60, 3) {
            for day in p.profile.hours() {
                assert!((day.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn national_points_extend_baerums_and_are_distinct() {
        let eight = points(8, 1);
        let many = points(2_000, 1);
        assert_eq!(many.len(), 2_000);
        for (a, b) in eight.iter().zip(&many) {
            assert_eq!(
                (&a.trp_id, a.aadt, &a.profile),
                (&b.trp_id, b.aadt, &b.profile)
            );
        }
        let ids: std::collections::HashSet<&str> = many.iter().map(|p| p.trp_id.as_str()).collect();
        assert_eq!(ids.len(), 2_000);
        // Inside Norway's bounding box, and not all alike.
        assert!(
            many.iter()
                .all(|p| (4.5..31.5).contains(&p.lon) && (57.8..71.3).contains(&p.lat))
        );
        let profiles: std::collections::HashSet<String> = many
            .iter()
            .map(|p| format!("{:?}", p.profile.month))
            .collect();
        assert!(profiles.len() >= 40, "{} profiles", profiles.len());
        assert_eq!(points(MAX_POINTS + 5, 1).len(), MAX_POINTS);
    }

    #[test]
    fn a_year_has_every_hour_and_the_dst_days_are_right() {
        let p = &points(1, 1)[0];
        let text = export(p, 2023, 2023, 1);
        assert_eq!(text.lines().count(), 8760 * 5);
        // The spring-forward day has 23 hours, the fall-back day 25 (02:00 twice, offsets differ).
        let march26 = text
            .lines()
            .filter(|l| l.contains(";2023-03-26;") && l.contains(";Totalt;"))
            .count();
        let oct29 = text
            .lines()
            .filter(|l| l.contains(";2023-10-29;") && l.contains(";Totalt;"))
            .count();
        assert_eq!((march26, oct29), (23, 25));
        assert!(text.contains("2023-10-29T02:00+02:00") && text.contains("2023-10-29T02:00+01:00"));
    }
}
