//! Road vehicle-km and their CO₂e from Statens vegvesen's traffic links (issue 12), against a
//! sum written here over the CSV as published (../shared/data/real/
//! trafikklenker-aadt-2024-oslo-baerum.csv) and the factor files as shipped (data/factors).

use std::collections::{BTreeMap, HashSet};

use crate::{ok, root, shared_data};

/// (municipality, road category, vehicle class) → sums.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    vkm: f64,
    var: f64,
    links: u64,
    with_aadt: u64,
    km: f64,
    km_with_aadt: f64,
}

type Key = (String, String, String);

/// The independent sum: each directed link once (the file repeats 58 links line for line),
/// ÅDT × length (km) × 366 days (2024), light and heavy by the heavy ratio, SE √Σ(SE·km·366)².
/// A negative ÅDT (one link) is no count: the link has no ÅDT.
fn independent(path: &std::path::Path) -> (BTreeMap<Key, Sums>, f64, usize) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (id, muni, cat, len, aadt, heavy, se, work) = (
        at("id"),
        at("municipalityIds"),
        at("roadCategory"),
        at("length"),
        at("bestDataSourceAadt_trafficVolumeValue"),
        at("bestDataSourceAadt_heavyRatio"),
        at("bestDataSourceAadt_correctedStandardError"),
        at("bestDataSourceAadt_trafficWorkValue"),
    );
    let (source, frequency, aadt_year) = (
        at("bestDataSourceAadt_sourceType"),
        at("bestDataSourceAadt_registrationFrequency"),
        at("bestDataSourceAadt_year"),
    );
    let mut seen = HashSet::new();
    let mut out: BTreeMap<Key, Sums> = BTreeMap::new();
    let (mut file_work, mut repeated) = (0.0, 0);
    for rec in r.records() {
        let rec = rec.unwrap();
        if !seen.insert(rec[id].to_string()) {
            repeated += 1;
            continue;
        }
        let num = |i: usize| rec[i].parse::<f64>().ok();
        let km = num(len).unwrap() / 1000.0;
        let a = num(aadt).filter(|a| *a >= 0.0);
        let h = num(heavy);
        let s = num(se).unwrap_or(0.0);
        // Statens vegvesen's own traffic work, brought to one direction and 366 days: the
        // municipal counts (EXTERNAL, PERIODIC) give the two-way figure, ÅDTs of earlier
        // years 365 days.
        let one_way = if &rec[source] == "EXTERNAL" && &rec[frequency] == "PERIODIC" {
            0.5
        } else {
            1.0
        };
        let days = if &rec[aadt_year] == "2024" {
            1.0
        } else {
            366.0 / 365.0
        };
        file_work += num(work).filter(|_| a.is_some()).unwrap_or(0.0) * one_way * days;
        for class in ["all", "light", "heavy"] {
            let share = match class {
                "all" => Some(1.0),
                "light" => h.map(|h| 1.0 - h),
                _ => h,
            };
            for c in [rec[cat].to_string(), "all".to_string()] {
                let e = out
                    .entry((rec[muni].to_string(), c, class.to_string()))
                    .or_default();
                e.links += 1;
                e.km += km;
                if let (Some(a), Some(f)) = (a, share) {
                    e.with_aadt += 1;
                    e.km_with_aadt += km;
                    e.vkm += a * f * km * 366.0;
                    e.var += (s * f * km * 366.0).powi(2);
                }
            }
        }
    }
    (out, file_work, repeated)
}

/// An output table's rows by (municipality, category, class).
fn rows(path: &std::path::Path) -> BTreeMap<Key, csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (m, c, v) = (
        at("municipality_id"),
        at("road_category"),
        at("vehicle_class"),
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                (rec[m].to_string(), rec[c].to_string(), rec[v].to_string()),
                rec,
            )
        })
        .collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

/// The car fleet's g CO₂e per vehicle-km of the latest fleet year, from the shipped CSVs:
/// Σ share × g over fuels.
fn car_fleet_g() -> f64 {
    let factors = root().join("data/factors");
    let mut ef = csv::Reader::from_path(factors.join("emission_factors.csv")).unwrap();
    let mut g: BTreeMap<(String, String), f64> = BTreeMap::new();
    for rec in ef.records() {
        let rec = rec.unwrap();
        if &rec[1] == "car"
            && let Ok(v) = rec[3].parse::<f64>()
        {
            g.insert((rec[0].to_string(), rec[2].to_string()), v);
        }
    }
    let mut mix = csv::Reader::from_path(factors.join("fleet_mix.csv")).unwrap();
    let rows: Vec<(String, String, f64)> = mix
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[1] == "car")
        .map(|r| (r[0].to_string(), r[2].to_string(), r[3].parse().unwrap()))
        .collect();
    let year = rows.iter().map(|r| r.0.clone()).max().unwrap();
    let (mut num, mut den) = (0.0, 0.0);
    for (y, fuel, share) in rows.iter().filter(|r| r.0 == year) {
        num += share * g[&(y.clone(), fuel.clone())];
        den += share;
    }
    num / den
}

#[test]
fn road_vkm_and_co2e_equal_an_independent_sum_over_the_links() {
    let Some(real) = shared_data() else { return };
    let file = real.join("trafikklenker-aadt-2024-oslo-baerum.csv");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let d = data.to_str().unwrap();
    let summary = ok(&["ingest", "links", file.to_str().unwrap(), "--out", d]);
    // 3,903 rows: 58 repeated links refused as duplicates; one negative ÅDT kept without it.
    assert!(
        summary.contains("3903") && summary.contains("3845"),
        "{summary}"
    );
    ok(&[
        "ingest",
        "factors",
        root().join("data/factors").to_str().unwrap(),
        "--out",
        d,
        "-q",
    ]);
    ok(&[
        "run",
        "--data",
        d,
        "--out",
        out.to_str().unwrap(),
        "--only",
        "road_vkm,road_co2e",
        "-q",
    ]);

    let (want, file_work, repeated) = independent(&file);
    assert_eq!(repeated, 58);
    let got = rows(&out.join("indicators/road_vkm.csv"));
    assert_eq!(
        got.len(),
        want.len(),
        "{:?}",
        got.keys().collect::<Vec<_>>()
    );
    for (k, w) in &want {
        let r = &got[k];
        let f = |i: usize| r[i].parse::<f64>().unwrap();
        assert!(
            close(f(4), w.vkm, 1e-12),
            "{k:?}: vkm {} vs {}",
            &r[4],
            w.vkm
        );
        assert!(
            close(f(5), w.var.sqrt(), 1e-9),
            "{k:?}: se {} vs {}",
            &r[5],
            w.var.sqrt()
        );
        assert_eq!((f(8) as u64, f(9) as u64), (w.links, w.with_aadt), "{k:?}");
        assert!(
            close(f(11), w.with_aadt as f64 / w.links as f64, 1e-12),
            "{k:?}"
        );
        assert!(close(f(14), w.km_with_aadt / w.km, 1e-12), "{k:?}");
    }
    let all = |m: &str| want[&(m.to_string(), "all".to_string(), "all".to_string())];
    let (oslo, baerum) = (all("301"), all("3201"));
    // The published traffic work, so adjusted, is the same vehicle-km.
    assert!(
        close(file_work, oslo.vkm + baerum.vkm, 1e-8),
        "{file_work} vs {}",
        oslo.vkm + baerum.vkm
    );
    eprintln!(
        "road_vkm 2024: Oslo {:.1} M vkm ({:.1} % of link length), Bærum {:.1} M ({:.1} %); \
         the file's traffic work, one way and 366 days, {:.1} M, {:+.2e}",
        oslo.vkm / 1e6,
        100.0 * oslo.km_with_aadt / oslo.km,
        baerum.vkm / 1e6,
        100.0 * baerum.km_with_aadt / baerum.km,
        file_work / 1e6,
        file_work / (oslo.vkm + baerum.vkm) - 1.0
    );

    // CO₂e: light vkm × the car fleet's factor + heavy vkm × the heavy factor (904 g/vkm).
    let light_g = car_fleet_g();
    let co2e = rows(&out.join("indicators/road_co2e.csv"));
    for ((m, c, v), r) in &co2e {
        let key = |class: &str| (m.clone(), c.clone(), class.to_string());
        let t = match v.as_str() {
            "light" => want[&key("light")].vkm * light_g / 1e6,
            "heavy" => want[&key("heavy")].vkm * 904.0 / 1e6,
            _ => (want[&key("light")].vkm * light_g + want[&key("heavy")].vkm * 904.0) / 1e6,
        };
        assert!(
            close(r[5].parse().unwrap(), t, 1e-9),
            "{m} {c} {v}: {} vs {t}",
            &r[5]
        );
        assert!(r[r.len() - 1].contains("measured links only"), "{r:?}");
    }
    assert_eq!(co2e.len(), want.len());
}

/// The API's JSON (a list of link objects with `bestDataSourceAadt` nested, arrays of
/// municipality ids: tests/fixtures/links/links-api.json, six links of the CSV) gives the same
/// rows as the CSV.
#[test]
fn links_from_the_api_json_equal_those_from_the_csv() {
    let Some(real) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("csv"), dir.path().join("json"));
    ok(&[
        "ingest",
        "links",
        real.join("trafikklenker-aadt-2024-oslo-baerum.csv")
            .to_str()
            .unwrap(),
        "--out",
        a.to_str().unwrap(),
        "-q",
    ]);
    ok(&[
        "ingest",
        "links",
        root()
            .join("tests/fixtures/links/links-api.json")
            .to_str()
            .unwrap(),
        "--out",
        b.to_str().unwrap(),
        "-q",
    ]);
    let json = crate::table(&b, "road_links");
    assert_eq!(json.num_rows(), 6);
    let ids: Vec<String> = crate::strings(&json, "link_id")
        .into_iter()
        .flatten()
        .collect();
    let csv = crate::table(&a, "road_links");
    let keep: Vec<bool> = crate::strings(&csv, "link_id")
        .iter()
        .map(|i| i.as_ref().is_some_and(|i| ids.contains(i)))
        .collect();
    let csv =
        arrow::compute::filter_record_batch(&csv, &arrow::array::BooleanArray::from(keep)).unwrap();
    assert_eq!(csv, json);
    let aadt = crate::strings(&json, "aadt");
    assert_eq!(aadt.iter().filter(|a| a.is_none()).count(), 2, "{aadt:?}");
}

/// The report puts road vehicle-km and CO₂e beside the survey's car-driver km and CO₂e, each
/// with what it covers.
#[test]
fn the_report_sets_road_figures_beside_the_survey_with_what_each_covers() {
    let Some(real) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    crate::sample_copy(&data);
    let d = data.to_str().unwrap();
    let links = real.join("trafikklenker-aadt-2024-oslo-baerum.csv");
    ok(&["ingest", "links", links.to_str().unwrap(), "--out", d, "-q"]);
    let out = dir.path().join("out");
    ok(&[
        "run",
        "--data",
        d,
        "--out",
        out.to_str().unwrap(),
        "--lang",
        "en",
        "-q",
    ]);
    let html = crate::html_text(&std::fs::read_to_string(out.join("report.html")).unwrap());
    let start = html.find("data-table=\"road\"").expect("the road table");
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 6, "{table}");
    for (row, what, covers) in [
        (
            0,
            "Vehicle-km on traffic links with an AADT, Oslo (301)",
            "measured links: 31 % of link length",
        ),
        (
            1,
            "Vehicle-km on traffic links with an AADT, Bærum (3201)",
            "measured links: 49 % of link length",
        ),
        (
            3,
            "CO₂e of those vehicle-km, t, Bærum (3201)",
            "measured links",
        ),
        (
            4,
            "Residents' car-driver km (travel survey)",
            "on every road",
        ),
        (
            5,
            "CO₂e of residents' car driving, t (travel survey)",
            "on every road",
        ),
    ] {
        assert!(
            rows[row].contains(what) && rows[row].contains(covers),
            "{}",
            rows[row]
        );
    }
    // Bærum's 384.8 M vehicle-km with its CI, as road_vkm has it.
    assert!(rows[1].contains("384.8 (384.4 – 385.1) M"), "{}", rows[1]);
}

/// DataFusion 55 pushed `WHERE mode = 'taxi'` below the car fleet's ungrouped aggregate in
/// `mode_factors`, which then gave a second row (`car_driver`, NULL); the view groups it.
#[test]
fn mode_factors_filtered_by_mode_gives_that_mode_only() {
    let sample = root().join("data/sample");
    for mode in ["car_driver", "taxi", "bus"] {
        let out = ok(&[
            "sql",
            "--data",
            sample.to_str().unwrap(),
            "--format",
            "csv",
            "-c",
            &format!("SELECT mode, g_per_pkm FROM mode_factors WHERE mode = '{mode}'"),
        ]);
        let lines: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(lines.len(), 1, "{mode}: {out}");
        assert!(
            lines[0].starts_with(mode) && !lines[0].ends_with(','),
            "{out}"
        );
    }
}

/// Worked by hand on three links of 2023 (365 days), without the shared data: A (FYLKESVEG,
/// 1 km, ÅDT 1,000, heavy 10 %, SE 50), B (FYLKESVEG, 0.5 km, no ÅDT), C (KOMMUNAL_VEG, 2 km,
/// ÅDT 100, no heavy ratio). All roads: 1,000·1·365 + 100·2·365 = 438,000 vkm, SE 50·365 =
/// 18,250, 2 of 3 links and 3 of 3.5 km with an ÅDT; heavy: A only, 36,500. Without a `heavy`
/// factor, road_co2e is skipped with a note and the run goes on.
#[test]
fn road_vkm_worked_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("links.csv");
    std::fs::write(
        &csv,
        "id,yearAppliesTo,municipalityIds,roadCategory,length,bestDataSourceAadt_trafficVolumeValue,bestDataSourceAadt_heavyRatio,bestDataSourceAadt_correctedStandardError\n\
         A-WITH,2023,3201,FYLKESVEG,1000,1000,0.1,50\n\
         B-WITH,2023,3201,FYLKESVEG,500,,,\n\
         C-WITH,2023,3201,KOMMUNAL_VEG,2000,100,,0\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    ok(&["ingest", "links", csv.to_str().unwrap(), "--out", d, "-q"]);
    let factors = dir.path().join("factors");
    std::fs::create_dir_all(&factors).unwrap();
    for f in ["fleet_mix.csv", "occupancy.csv"] {
        std::fs::copy(root().join("data/factors").join(f), factors.join(f)).unwrap();
    }
    let ef = std::fs::read_to_string(root().join("data/factors/emission_factors.csv")).unwrap();
    let no_heavy: String = ef
        .lines()
        .filter(|l| !l.contains(",heavy,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(factors.join("emission_factors.csv"), no_heavy).unwrap();
    let out = dir.path().join("out");
    ok(&[
        "run",
        "--data",
        d,
        "--out",
        out.to_str().unwrap(),
        "--factors",
        factors.to_str().unwrap(),
        "--only",
        "road_vkm,road_co2e",
        "-q",
    ]);
    let got = rows(&out.join("indicators/road_vkm.csv"));
    let cell = |c: &str, v: &str| &got[&("3201".to_string(), c.to_string(), v.to_string())];
    let f = |r: &csv::StringRecord, i: usize| r[i].parse::<f64>().unwrap();
    let all = cell("all", "all");
    assert_eq!((f(all, 4), f(all, 5)), (438_000.0, 18_250.0));
    assert_eq!((f(all, 8), f(all, 9), f(all, 10)), (3.0, 2.0, 1.0));
    assert!((f(all, 11) - 2.0 / 3.0).abs() < 1e-12 && (f(all, 14) - 3.0 / 3.5).abs() < 1e-12);
    let heavy = cell("all", "heavy");
    assert!((f(heavy, 4) - 36_500.0).abs() < 1e-9 && f(heavy, 9) == 1.0);
    let fylke = cell("FYLKESVEG", "all");
    assert_eq!(
        (f(fylke, 4), f(fylke, 8), f(fylke, 9)),
        (365_000.0, 2.0, 1.0)
    );
    assert!(!out.join("indicators/road_co2e.csv").exists());
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("a `heavy` row in emission_factors is needed"),
        "{manifest}"
    );
}
