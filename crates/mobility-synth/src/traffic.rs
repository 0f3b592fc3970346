//! Synthetic counting points and their hourly counts, written exactly as trafikkdata.no
//! exports them (ISO-8859-1, `;`, decimal comma, `-` for missing, local time with offset, rows
//! per lane, per direction and in total), with weekday, hourly and seasonal profiles, a trend
//! over the years, outages (hours with `-`) and hours of low coverage.

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
}

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

/// The counting points (up to 8), the same for every seed; the seed varies their counts.
pub fn points(n: usize, seed: u64) -> Vec<CountPoint> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_7AFF);
    POINTS
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, (name, road, lon, lat, aadt, dirs))| CountPoint {
            trp_id: format!("{:05}V{}", 10_000 + i * 7919 % 90_000, 443_600 + i * 37),
            name: (*name).into(),
            road_reference: (*road).into(),
            lon: *lon,
            lat: *lat,
            aadt: aadt * (0.9 + 0.2 * rng.random::<f64>()),
            trend: -0.012 + 0.02 * rng.random::<f64>(),
            heavy: if road.starts_with("EV") { 0.09 } else { 0.05 } + 0.02 * rng.random::<f64>(),
            directions: *dirs,
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

fn hour_share(weekend: bool, h: u32) -> f64 {
    let h = h as f64;
    let bump = |c: f64, w: f64, a: f64| a * (-((h - c) / w).powi(2)).exp();
    let raw = if weekend {
        0.15 + bump(13.5, 4.0, 1.0)
    } else {
        0.08 + bump(7.8, 1.2, 1.3) + bump(16.0, 1.6, 1.4) + bump(12.0, 4.0, 0.6)
    };
    let total: f64 = (0..24)
        .map(|k| {
            let k = k as f64;
            let b = |c: f64, w: f64, a: f64| a * (-((k - c) / w).powi(2)).exp();
            if weekend {
                0.15 + b(13.5, 4.0, 1.0)
            } else {
                0.08 + b(7.8, 1.2, 1.3) + b(16.0, 1.6, 1.4) + b(12.0, 4.0, 0.6)
            }
        })
        .sum();
    raw / total
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

fn row(
    out: &mut String,
    p: &CountPoint,
    start: chrono::DateTime<chrono_tz::Tz>,
    end: chrono::DateTime<chrono_tz::Tz>,
    felt: &str,
    c: Option<&Counts>,
    coverage: f64,
) {
    let _ = write!(
        out,
        "{};{};{};{};{};{};{};{};{};",
        p.trp_id,
        p.name,
        p.road_reference,
        start.format("%Y-%m-%dT%H:%M%:z"),
        end.format("%Y-%m-%dT%H:%M%:z"),
        start.format("%Y-%m-%d"),
        start.format("%H:%M"),
        end.format("%H:%M"),
        felt
    );
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
    let mut out = String::with_capacity(hours as usize * 5 * 140);
    for h in 0..hours {
        let t0 = start + chrono::Duration::hours(h);
        let t1 = t0 + chrono::Duration::hours(1);
        let local = t0.naive_local();
        let dow = local.weekday().num_days_from_monday() as usize;
        let mean = p.aadt
            * growth
            * MONTH[local.month0() as usize]
            * DOW[dow]
            * hour_share(dow >= 5, local.hour());
        if outages.iter().any(|(a, b)| (*a..*b).contains(&h)) {
            for felt in ["1", "2"]
                .into_iter()
                .chain(p.directions.iter().map(|d| d as &str))
                .chain(["Totalt"])
            {
                let f = if felt == "1" || felt == "2" || felt == "Totalt" {
                    felt.to_string()
                } else {
                    format!("Totalt i retning {felt}")
                };
                row(&mut out, p, t0, t1, &f, None, 0.0);
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
        row(&mut out, p, t0, t1, "1", Some(&lanes[0]), coverage);
        row(&mut out, p, t0, t1, "2", Some(&lanes[1]), coverage);
        row(
            &mut out,
            p,
            t0,
            t1,
            &format!("Totalt i retning {}", p.directions[0]),
            Some(&lanes[0]),
            coverage,
        );
        row(
            &mut out,
            p,
            t0,
            t1,
            &format!("Totalt i retning {}", p.directions[1]),
            Some(&lanes[1]),
            coverage,
        );
        row(&mut out, p, t0, t1, "Totalt", Some(&sum), coverage);
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
        for weekend in [false, true] {
            let s: f64 = (0..24).map(|h| hour_share(weekend, h)).sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
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
