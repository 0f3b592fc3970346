//! Traffic statistics against Statens vegvesen's published figures.

use std::collections::HashMap;

use crate::{ok, root, shared_data};

/// How near a recomputed figure must come to the published one.
#[derive(Clone, Copy, Debug)]
enum Tol {
    /// |ours − published| ≤ this.
    Abs(f64),
    /// |ours − published| ≤ this · |published|.
    Rel(f64),
}

impl Tol {
    fn holds(self, got: f64, want: f64) -> bool {
        match self {
            Tol::Abs(t) => (got - want).abs() <= t,
            Tol::Rel(t) => (got - want).abs() <= t * want.abs(),
        }
    }
}

/// The tolerances of one area's published rolling indices: index, n_eff, SD, SE, CI bounds.
struct Published {
    area: &'static str,
    rows_12_36: usize,
    index: Tol,
    n_eff: Tol,
    sd: Tol,
    se: Tol,
    ci: Tol,
}

/// Statens vegvesen's rolling area indices (`*-by_glid_indeks.csv`) recomputed from their
/// published point figures (`*-punkt_glid_indeks.csv`: each point's mean MDT in the reference
/// year and in the window) with the SQL aggregate `area_traffic_index`, for Bergensområdet
/// (8952) and Nord-Jæren (952). Every published 12- and 36-month row is reproduced, n_trp
/// exactly. The 24-month rows have no published point figures, so they cannot be recomputed
/// and are counted apart.
///
/// Bergen publishes index, n_eff, SD and SE unrounded (R's 15–16 digits), so they must agree
/// to 1e-9: the index in percentage points absolutely, the others relatively. The file itself
/// shows SE = SD/√n_eff (to 1e-15 on every row) and CI = index ± t₀.₉₇₅,ₙ₋₁ · SE with
/// n = n_trp, but the CI is published rounded to 0.1 even for Bergen (the unrounded bounds
/// are within 0.04998 of it on all 195 rows), so the CI is held to half that rounding, 0.05.
/// Nord-Jæren publishes everything rounded, the point means included, so its figures are held
/// to their rounding: index to 0.01, n_eff to 0.1, SD and SE to 0.01, CI to 0.1.

/// The header of a trafikkdata.no hourly export.
const EXPORT_HEADER: &str = "Trafikkregistreringspunkt;Navn;Vegreferanse;Fra;Til;Dato;Fra tidspunkt;Til tidspunkt;Felt;Trafikkmengde;Dekningsgrad (%);Antall timer total;Antall timer inkludert;Antall timer ugyldig;Ikke gyldig lengde;Lengdekvalitetsgrad (%);< 5,6m;>= 5,6m;5,6m - 7,6m;7,6m - 12,5m;12,5m - 16,0m;>= 16,0m;16,0m - 24,0m;>= 24,0m";

/// One `Totalt` row of a hand-made export for the hour `from` (e.g. `2024-05-01T00:00+02:00`)
/// to `to`: full coverage and length quality, `light` vehicles under 5.6 m and `heavy` of
/// 5.6–7.6 m.
fn export_row(point: &str, from: &str, to: &str, light: u32, heavy: u32) -> String {
    let (date, h1, h2) = (&from[..10], &from[11..16], &to[11..16]);
    format!(
        "{point};Test;FV1 S1D1 m1;{from};{to};{date};{h1};{h2};Totalt;{};100,0;1;1;0;0;100,00;{light};{heavy};{heavy};0;0;0;0;0\n",
        light + heavy
    )
}
#[test]
fn published_rolling_area_indices_are_reproduced_from_the_point_figures() {
    let Some(real) = shared_data() else { return };
    let dir = real.join("byindeks");
    let data = root().join("data/sample");
    let areas = [
        Published {
            area: "bergen-8952",
            rows_12_36: 130,
            index: Tol::Abs(1e-9),
            n_eff: Tol::Rel(1e-9),
            sd: Tol::Rel(1e-9),
            se: Tol::Rel(1e-9),
            ci: Tol::Abs(0.05 + 1e-9),
        },
        Published {
            area: "nord-jaeren-952",
            rows_12_36: 156,
            index: Tol::Abs(0.01 + 1e-9),
            n_eff: Tol::Abs(0.1 + 1e-9),
            sd: Tol::Abs(0.01 + 1e-9),
            se: Tol::Abs(0.01 + 1e-9),
            ci: Tol::Abs(0.1 + 1e-9),
        },
    ];
    for t in &areas {
        let area = t.area;
        let points = dir.join(format!("{area}-punkt_glid_indeks.csv"));
        let sql = format!(
            "SELECT \"window\", index_period, a['index_p'] AS index_p, a['n_trp'] AS n_trp, a['n_eff'] AS n_eff, \
             a['sd_p'] AS sd_p, a['se_p'] AS se_p, a['ci_lower'] AS ci_lower, a['ci_upper'] AS ci_upper FROM ( \
             SELECT \"window\", index_period, area_traffic_index(mean_mdt_reference_year, mean_mdt_index_period) AS a \
             FROM '{}' GROUP BY 1, 2)",
            points.display()
        );
        let out = ok(&[
            "sql",
            "--data",
            data.to_str().unwrap(),
            "--format",
            "csv",
            "-c",
            &sql,
        ]);
        let mut ours: HashMap<(String, String), Vec<f64>> = HashMap::new();
        let mut r = csv::Reader::from_reader(out.as_bytes());
        for rec in r.records() {
            let rec = rec.unwrap();
            let v: Vec<f64> = (2..9)
                .map(|i| {
                    rec[i]
                        .parse::<f64>()
                        .unwrap_or_else(|e| panic!("{area} {rec:?} column {i}: {e}"))
                })
                .collect();
            ours.insert((rec[0].to_string(), rec[1].to_string()), v);
        }
        let mut published =
            csv::Reader::from_path(dir.join(format!("{area}-by_glid_indeks.csv"))).unwrap();
        let h = published.headers().unwrap().clone();
        let col = |n: &str| {
            h.iter()
                .position(|c| c == n)
                .unwrap_or_else(|| panic!("{area}: no column {n}"))
        };
        let (mut checked, mut without_points) = (0, 0);
        for rec in published.records() {
            let rec = rec.unwrap();
            let key = (
                rec[col("window")].to_string(),
                rec[col("index_period")].to_string(),
            );
            let Some(v) = ours.get(&key) else {
                assert_eq!(key.0, "24_months", "{area}: no point figures for {key:?}");
                without_points += 1;
                continue;
            };
            let p = |n: &str| rec[col(n)].parse::<f64>().unwrap();
            let near = |what: &str, got: f64, want: f64, tol: Tol| {
                assert!(
                    tol.holds(got, want),
                    "{area} {key:?} {what}: {got} vs published {want} (tolerance {tol:?})"
                );
            };
            near("index", v[0], p("index_p"), t.index);
            assert_eq!(v[1], p("n_trp"), "{area} {key:?} n_trp");
            near("n_eff", v[2], p("n_eff"), t.n_eff);
            near("sd", v[3], p("sd_sample_p"), t.sd);
            near("se", v[4], p("standard_error_p"), t.se);
            near("ci_lower", v[5], p("ci_lower"), t.ci);
            near("ci_upper", v[6], p("ci_upper"), t.ci);
            checked += 1;
        }
        assert_eq!(checked, t.rows_12_36, "{area}");
        eprintln!(
            "{area}: {checked} rolling indices reproduced, {without_points} 24-month rows without point figures"
        );
    }
}

/// `traffic_mdt` for May 2024 on the real Bærum export, against the raw file summed here
/// independently: the `Totalt` rows per point and date, a day's coverage = Σ hourly coverage
/// / 24 (May has no daylight-saving change), days ≥ 95 % averaged, coverage of the MDT =
/// mean coverage × n / 31.
#[test]
fn mdt_of_the_real_baerum_export_equals_the_raw_sums() {
    let Some(real) = shared_data() else { return };
    let file = real.join("trafikkdata-baerum-hour-2024-05.csv");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    ok(&[
        "ingest",
        "traffic",
        file.to_str().unwrap(),
        "--out",
        data,
        "-q",
    ]);
    let sql = "SELECT trp_id, mdt, n_days, coverage_pct, mdt_lt_5_6m FROM traffic_mdt \
               WHERE year = 2024 AND month = 5 AND day_type = 'all' ORDER BY trp_id";
    let out = ok(&["sql", "--data", data, "--format", "csv", "-c", sql]);
    eprintln!("{out}");

    // ISO-8859-1 maps byte for byte onto the first 256 code points.
    let text: String = std::fs::read(&file)
        .unwrap()
        .iter()
        .map(|&b| b as char)
        .collect();
    // (point, date) → (Σ volume, Σ coverage)
    let mut days: HashMap<(String, String), (f64, f64)> = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        if f[8] != "Totalt" {
            continue;
        }
        let num = |s: &str| s.replace(',', ".").parse::<f64>().ok();
        let e = days
            .entry((f[0].to_string(), f[5].to_string()))
            .or_default();
        e.0 += num(f[9]).unwrap_or(0.0);
        e.1 += num(f[10]).unwrap_or(0.0);
    }
    let raw_days = days.clone();
    let mut per_point: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for ((p, _), (v, c)) in days {
        per_point.entry(p).or_default().push((v, c / 24.0));
    }
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let (mut checked, mut without) = (0, 0);
    for rec in r.records() {
        let rec = rec.unwrap();
        let kept: Vec<&(f64, f64)> = per_point[&rec[0]].iter().filter(|d| d.1 >= 95.0).collect();
        let n = kept.len() as f64;
        assert_eq!(rec[2].parse::<f64>().unwrap(), n, "{}", &rec[0]);
        if n == 0.0 {
            assert!(rec[1].is_empty(), "{}: no day counts, so no MDT", &rec[0]);
            without += 1;
            continue;
        }
        let mdt = kept.iter().map(|d| d.0).sum::<f64>() / n;
        let coverage = kept.iter().map(|d| d.1).sum::<f64>() / n * n / 31.0;
        assert!(
            (rec[1].parse::<f64>().unwrap() - mdt).abs() < 1e-9,
            "{}: {} vs raw {mdt}",
            &rec[0],
            &rec[1]
        );
        assert!(
            (rec[3].parse::<f64>().unwrap() - coverage).abs() < 1e-9,
            "{}: coverage",
            &rec[0]
        );
        checked += 1;
    }
    // 16 points; one (33438V444232) has no day with 95 % coverage in May.
    assert_eq!((checked, without), (15, 1));
    // Weekday, weekend and holiday MDT, the days sorted by a calendar written out here: May
    // 2024 begins on a Wednesday; its public holidays are 1 (Labour Day), 9 (Ascension), 17
    // (Constitution Day), 19 and 20 May (Whit Sunday and Monday). Weekdays leave out 1, 9, 17
    // and 20 May, as trafikkdata.no's working days do.
    let kind = |date: &str| -> &str {
        let day: u32 = date[8..10].parse().unwrap();
        if [1, 9, 17, 19, 20].contains(&day) {
            "holiday"
        } else if (day + 1) % 7 >= 5 {
            // (day − 1 + 2) % 7 with Monday = 0: Saturday 5, Sunday 6.
            "weekend"
        } else {
            "weekday"
        }
    };
    let sql = "SELECT trp_id, day_type, mdt, n_days, days_in_period, coverage_pct FROM traffic_mdt \
               WHERE year = 2024 AND month = 5 AND day_type <> 'all' ORDER BY trp_id, day_type";
    let out = ok(&["sql", "--data", data, "--format", "csv", "-c", sql]);
    let mut by_kind: HashMap<(String, &str), Vec<(f64, f64)>> = HashMap::new();
    for ((p, date), (v, c)) in &raw_days {
        by_kind
            .entry((p.clone(), kind(date)))
            .or_default()
            .push((*v, c / 24.0));
    }
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let mut checked = HashMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let t = match &rec[1] {
            "weekday" => "weekday",
            "weekend" => "weekend",
            "holiday" => "holiday",
            other => panic!("day type {other}"),
        };
        let days_of_kind = match t {
            "weekday" => 19.0,
            "weekend" => 7.0,
            _ => 5.0,
        };
        assert_eq!(rec[4].parse::<f64>().unwrap(), days_of_kind, "{rec:?}");
        let kept: Vec<&(f64, f64)> = by_kind
            .get(&(rec[0].to_string(), t))
            .map(|v| v.iter().filter(|d| d.1 >= 95.0).collect())
            .unwrap_or_default();
        let n = kept.len() as f64;
        assert_eq!(rec[3].parse::<f64>().unwrap(), n, "{rec:?}");
        if n == 0.0 {
            assert!(rec[2].is_empty(), "{rec:?}");
            continue;
        }
        let mdt = kept.iter().map(|d| d.0).sum::<f64>() / n;
        let coverage = kept.iter().map(|d| d.1).sum::<f64>() / days_of_kind;
        assert!(
            (rec[2].parse::<f64>().unwrap() - mdt).abs() < 1e-9,
            "{rec:?} vs {mdt}"
        );
        assert!(
            (rec[5].parse::<f64>().unwrap() - coverage).abs() < 1e-9,
            "{rec:?} vs {coverage}"
        );
        *checked.entry(t).or_insert(0) += 1;
    }
    assert_eq!(checked.get("weekday"), Some(&15), "{checked:?}");
    assert_eq!(checked.get("holiday"), Some(&15), "{checked:?}");
}

/// A hand-made trafikkdata.no export: one point, March 1–20 of 2023 and 2024, every hour
/// 100 light and 10 heavy vehicles in 2023 and 110 light and 10 heavy in 2024, full coverage.
/// 2024-03-05 lacks one hour (coverage 23/24 = 95.8 %, kept) and 2024-03-06 two (91.7 %,
/// left out of the MDT; for the index only the hours both years have are matched). Worked by
/// hand below: MDT and ÅDT with their coverage, the light MDT and heavy share, and the point
/// index 100·(110/100 − 1) = 10 %.
#[test]
fn hand_made_export_gives_the_hand_worked_mdt_and_point_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("{EXPORT_HEADER}\n");
    for year in [2023, 2024] {
        let light = if year == 2023 { 100 } else { 110 };
        for day in 1..=20 {
            for hour in 0..24 {
                let missing = year == 2024
                    && ((day == 5 && hour == 3) || (day == 6 && (hour == 3 || hour == 4)));
                if missing {
                    continue;
                }
                let date = format!("{year}-03-{day:02}");
                let (h1, h2) = (
                    format!("{hour:02}:00"),
                    format!("{:02}:00", (hour + 1) % 24),
                );
                let to_date = if hour == 23 {
                    format!("{year}-03-{:02}", day + 1)
                } else {
                    date.clone()
                };
                text.push_str(&export_row(
                    "00001V1",
                    &format!("{date}T{h1}+01:00"),
                    &format!("{to_date}T{h2}+01:00"),
                    light,
                    10,
                ));
            }
        }
    }
    let file = dir.path().join("export.csv");
    std::fs::write(&file, text).unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    ok(&[
        "ingest",
        "traffic",
        file.to_str().unwrap(),
        "--out",
        data,
        "--strict",
        "-q",
    ]);
    let q = |sql: &str| -> Vec<String> {
        ok(&["sql", "--data", data, "--format", "csv", "-c", sql])
            .lines()
            .skip(1)
            .map(String::from)
            .collect()
    };
    // Days of March 2024: 18 full days (24·120), March 5 with 23 hours (coverage 95.83 %);
    // March 6 (22 hours, 91.67 %) is left out. MDT = (18·2880 + 2760)/19, coverage =
    // (18·100 + 95.8333)/19 · 19/31.
    let row = q(
        "SELECT mdt, n_days, coverage_pct, mdt_lt_5_6m, heavy_share FROM traffic_mdt WHERE year = 2024 AND month = 3 AND day_type = 'all'",
    );
    let v: Vec<f64> = row[0].split(',').map(|x| x.parse().unwrap()).collect();
    let mdt = (18.0 * 2880.0 + 2760.0) / 19.0;
    assert!((v[0] - mdt).abs() < 1e-9, "{row:?}");
    assert_eq!(v[1], 19.0);
    assert!(
        (v[2] - (18.0 * 100.0 + 100.0 * 23.0 / 24.0) / 31.0).abs() < 1e-9,
        "{row:?}"
    );
    assert!(
        (v[3] - (18.0 * 2640.0 + 2530.0) / 19.0).abs() < 1e-9,
        "{row:?}"
    );
    assert!((v[4] - 10.0 / 120.0).abs() < 1e-9, "{row:?}");
    // ÅDT of 2023: 20 full days of 24·110 in a 365-day year.
    let row = q(
        "SELECT adt, n_days, coverage_pct, days_in_period FROM traffic_adt WHERE year = 2023 AND day_type = 'all'",
    );
    assert_eq!(row, vec![format!("2640.0,20,{},365", 2000.0 / 365.0)]);
    // The point index: 20 days matched hour for hour (the missing hours drop from both years),
    // one month with ≥ 16 days: 10 %.
    let row = q("SELECT base_year, calc_year, n_months, n_days, index_p FROM traffic_point_index");
    let v: Vec<f64> = row[0].split(',').map(|x| x.parse().unwrap()).collect();
    assert_eq!(&v[..4], &[2023.0, 2024.0, 1.0, 20.0]);
    assert!((v[4] - 10.0).abs() < 1e-9, "{row:?}");
}

/// Statens vegvesen's calendar-adjusted MDT (`traffic_mdt_calendar`) worked by hand on a
/// made-up May 2024: every hour 40 light and 10 heavy vehicles on working days, 15 and 10 on
/// non-working days, 25 and 10 in Whitsun (17–20 May). May's classes: 19 working days, 8
/// non-working (1 May, Ascension Day 9 May and six Saturdays and Sundays), the 4 Whitsun days.
/// MDT = 0.6516 · 1200 + 0.3484 · 600 = 990.96, published as 990; light 0.6516 · 960 +
/// 0.3484 · 360 = 750.96 → 750; Whitsun 840. A second point lacks all but two weekend days,
/// so its May has too few non-working days (< 3) and no calendar MDT, and its Whitsun is
/// incomplete.
#[test]
fn calendar_adjusted_mdt_worked_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("{EXPORT_HEADER}\n");
    for point in ["00001V1", "00002V2"] {
        for day in 1..=31u32 {
            // 1 May 2024 is a Wednesday: Saturdays 4, 11, 18, 25; Sundays 5, 12, 19, 26.
            let weekend = matches!((day + 2) % 7, 0 | 6);
            let light = if (17..=20).contains(&day) {
                25
            } else if weekend || day == 1 || day == 9 {
                15
            } else {
                40
            };
            // The second point misses every non-working day but 4 and 5 May, and 18 May.
            let off = light != 40 && !matches!(day, 4 | 5 | 18);
            if point == "00002V2" && off {
                continue;
            }
            for hour in 0..24 {
                let date = format!("2024-05-{day:02}");
                let to_date = if hour == 23 {
                    if day == 31 {
                        "2024-06-01".to_string()
                    } else {
                        format!("2024-05-{:02}", day + 1)
                    }
                } else {
                    date.clone()
                };
                let (h1, h2) = (
                    format!("{hour:02}:00"),
                    format!("{:02}:00", (hour + 1) % 24),
                );
                text.push_str(&export_row(
                    point,
                    &format!("{date}T{h1}+02:00"),
                    &format!("{to_date}T{h2}+02:00"),
                    light,
                    10,
                ));
            }
        }
    }
    let file = dir.path().join("export.csv");
    std::fs::write(&file, text).unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    ok(&[
        "ingest",
        "traffic",
        file.to_str().unwrap(),
        "--out",
        data,
        "--strict",
        "-q",
    ]);
    let q = |sql: &str| -> Vec<String> {
        ok(&["sql", "--data", data, "--format", "csv", "-c", sql])
            .lines()
            .skip(1)
            .map(String::from)
            .collect()
    };
    let rows = q(
        "SELECT trp_id, period, working_days, non_working_days, working_mean, non_working_mean, weight, \
         mdt, mdt_rounded, mdt_lt_5_6m, mdt_lt_5_6m_rounded FROM traffic_mdt_calendar ORDER BY trp_id, period",
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    let f: Vec<&str> = rows[0].split(',').collect();
    assert_eq!(&f[..4], ["00001V1", "month", "19", "8"], "{rows:?}");
    let v = |i: usize| f[i].parse::<f64>().unwrap();
    assert_eq!((v(4), v(5), v(6)), (1200.0, 600.0, 0.6516));
    assert!((v(7) - 990.96).abs() < 1e-9 && v(8) == 990.0, "{rows:?}");
    assert!((v(9) - 750.96).abs() < 1e-9 && v(10) == 750.0, "{rows:?}");
    assert_eq!(rows[1], "00001V1,whitsun,,,,,,840.0,840.0,600.0,600.0");
    // The second point: 19 working days but 2 non-working ones; Whitsun has one day of four.
    let f: Vec<&str> = rows[2].split(',').collect();
    assert_eq!(&f[..4], ["00002V2", "month", "19", "2"]);
    assert_eq!(&f[7..], ["", "", "", ""], "{rows:?}");
    assert_eq!(rows[3], "00002V2,whitsun,,,,,,,,,");
}

/// `--index-method calendar` computes both indices from the calendar-adjusted MDT and says so
/// in every row and in the manifest; a method it does not know is refused.
#[test]
fn the_index_method_is_chosen_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let sample = crate::root().join("data/sample");
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let run = |method: &str| {
        ok(&[
            "run",
            "--data",
            sample.to_str().unwrap(),
            "--out",
            o,
            "--only",
            "trips_per_person_day",
            "--index-method",
            method,
            "-q",
        ]);
        let read =
            |id: &str| std::fs::read_to_string(out.join(format!("indicators/{id}.csv"))).unwrap();
        (read("traffic_index_yearly"), read("traffic_index_rolling"))
    };
    let (classic_y, classic_r) = run("classic");
    let (calendar_y, calendar_r) = run("calendar");
    for (table, method) in [
        (&classic_y, "classic"),
        (&classic_r, "classic"),
        (&calendar_y, "calendar"),
        (&calendar_r, "calendar"),
    ] {
        let rows: Vec<&str> = table.lines().skip(1).collect();
        assert!(
            !rows.is_empty() && rows.iter().all(|r| r.contains(&format!(",{method},"))),
            "{table}"
        );
    }
    assert_ne!(
        classic_y.replace("classic", ""),
        calendar_y.replace("calendar", "")
    );
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"traffic_index_method\": \"calendar\""),
        "{manifest}"
    );
    let err = crate::fails(&[
        "run",
        "--data",
        sample.to_str().unwrap(),
        "--out",
        o,
        "--index-method",
        "fancy",
    ]);
    assert!(
        err.contains("index_method = 'fancy'") && err.contains("classic or calendar"),
        "{err}"
    );
}

/// A vehicle point (`00001V1`: 100 light and 10 heavy vehicles every hour of 2023 and 2024) and
/// a bicycle point (`00002B2`: 20 bicycles an hour in 2023, 22 in 2024). The vehicle indices
/// leave the bicycle point out (one point, index 0); `bike_traffic_index_rolling` has the
/// bicycle point alone: +10 % over the 12 months of 2024 against the reference year 2023 (the
/// only window after it); the bike target sets that latest, longest window beside the survey's
/// share.
#[test]
fn bicycle_points_have_their_own_index_beside_the_bike_target() {
    use chrono::{Duration, NaiveDate, TimeZone, Utc};
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("{EXPORT_HEADER}\n");
    // Every UTC hour of local 2023-01-01 to 2024-12-31 (Oslo is UTC+1 in winter).
    let start = Utc.from_utc_datetime(
        &NaiveDate::from_ymd_opt(2022, 12, 31)
            .unwrap()
            .and_hms_opt(23, 0, 0)
            .unwrap(),
    );
    let end = Utc.from_utc_datetime(
        &NaiveDate::from_ymd_opt(2024, 12, 31)
            .unwrap()
            .and_hms_opt(23, 0, 0)
            .unwrap(),
    );
    let mut at = start;
    while at < end {
        let next = at + Duration::hours(1);
        let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M+00:00").to_string();
        let year_2024 = at
            >= Utc.from_utc_datetime(
                &NaiveDate::from_ymd_opt(2023, 12, 31)
                    .unwrap()
                    .and_hms_opt(23, 0, 0)
                    .unwrap(),
            );
        for (point, light, heavy) in [
            ("00001V1", 100, 10),
            ("00002B2", if year_2024 { 22 } else { 20 }, 0),
        ] {
            text.push_str(&export_row(point, &fmt(at), &fmt(next), light, heavy));
        }
        at = next;
    }
    let file = dir.path().join("export.csv");
    std::fs::write(&file, text).unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    ok(&[
        "ingest",
        "traffic",
        file.to_str().unwrap(),
        "--out",
        d,
        "--strict",
        "-q",
    ]);
    let kinds = ok(&[
        "sql",
        "--data",
        d,
        "--format",
        "csv",
        "-c",
        "SELECT trp_id, kind, mdt FROM traffic_mdt WHERE year = 2024 AND month = 6 AND day_type = 'all' ORDER BY trp_id",
    ]);
    assert_eq!(
        kinds,
        "trp_id,kind,mdt\n00001V1,vehicle,2640.0\n00002B2,bicycle,528.0\n"
    );
    let out = dir.path().join("out");
    ok(&[
        "run",
        "--data",
        d,
        "--out",
        out.to_str().unwrap(),
        "--only",
        "trips_per_person_day",
        "-q",
    ]);
    let rows = |id: &str| -> Vec<HashMap<String, String>> {
        let mut r = csv::Reader::from_path(out.join(format!("indicators/{id}.csv"))).unwrap();
        let h = r.headers().unwrap().clone();
        r.records()
            .map(|rec| {
                h.iter()
                    .zip(rec.unwrap().iter())
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    };
    let at_end = |rs: &[HashMap<String, String>], window: &str| -> (f64, f64) {
        let r = rs
            .iter()
            .find(|r| {
                r["subset"] == "all points"
                    && r["window"] == window
                    && r["last_month"] == "2024-12-01"
            })
            .unwrap_or_else(|| panic!("{window}: {rs:?}"));
        (r["index_p"].parse().unwrap(), r["n_trp"].parse().unwrap())
    };
    let vehicles = rows("traffic_index_rolling");
    assert_eq!(at_end(&vehicles, "12_months"), (0.0, 1.0));
    let bikes = rows("bike_traffic_index_rolling");
    let (i12, n) = at_end(&bikes, "12_months");
    assert!((i12 - 10.0).abs() < 1e-9 && n == 1.0, "{i12} {n}");
    assert_eq!(bikes.len(), 1, "{bikes:?}");
    let targets = rows("targets");
    let bike = targets
        .iter()
        .find(|t| t["target"] == "bike_share")
        .unwrap();
    assert!(
        (bike["trend_index_p"].parse::<f64>().unwrap() - 10.0).abs() < 1e-9,
        "{bike:?}"
    );
    assert!(bike["trend"].contains("+10.0 % (CI"), "{bike:?}");
    assert!(
        bike["trend"].contains("12 months to 2024-12 against 2023, 1 point(s)"),
        "{bike:?}"
    );

    // The bicycle point alone, its rows without length data as bicycle counters give them:
    // the run goes through (no vehicle index, an empty nullvekst), and the calendar method
    // keeps its days (no length quality to ask of a bicycle point).
    let bikes_only: String = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("00001V1"))
        .map(|l| match l.split_once(";100,00;") {
            Some((head, _)) if l.starts_with("00002B2") => format!("{head};-;-;-;-;-;-;-;-;-\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    let only = dir.path().join("bikes.csv");
    std::fs::write(&only, bikes_only).unwrap();
    let data2 = dir.path().join("data2");
    let d2 = data2.to_str().unwrap();
    ok(&[
        "ingest",
        "traffic",
        only.to_str().unwrap(),
        "--out",
        d2,
        "--strict",
        "-q",
    ]);
    let out2 = dir.path().join("out2");
    ok(&[
        "run",
        "--data",
        d2,
        "--out",
        out2.to_str().unwrap(),
        "--only",
        "trips_per_person_day",
        "--index-method",
        "calendar",
        "-q",
    ]);
    let read =
        |id: &str| std::fs::read_to_string(out2.join(format!("indicators/{id}.csv"))).unwrap();
    assert_eq!(
        read("nullvekst").lines().count(),
        1,
        "{}",
        read("nullvekst")
    );
    let bike = read("bike_traffic_index_rolling");
    assert!(
        bike.lines()
            .any(|l| l.contains(",calendar,12_months,") && l.contains("2024-12-01")),
        "{bike}"
    );
}
