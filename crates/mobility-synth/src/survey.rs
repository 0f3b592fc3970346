//! The synthetic travel survey: one respondent per household as in RVU, post-stratified
//! weights, persons without trips, home-based tours, and main modes from a logit whose
//! constants are calibrated to Bærum's 2018 split (car 57 %, walk 20 %, PT 18 %, bike 4 %).

use std::fmt::Write;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use mobility_model::{Mode, Purpose};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::geography::Geography;

/// Persons 13+ in Bærum the weights add up to (SSB: about 131,000 residents in 2024, of whom
/// about 83 % are 13 or older).
pub const POPULATION_13_PLUS: f64 = 109_000.0;

/// Age bands: (low, high, share of the population, share of the sample: older people answer
/// more often, which the weights correct).
const BANDS: &[(i16, i16, f64, f64)] = &[
    (13, 17, 0.07, 0.05),
    (18, 29, 0.16, 0.10),
    (30, 44, 0.22, 0.20),
    (45, 66, 0.35, 0.38),
    (67, 90, 0.20, 0.27),
];

/// Trip shares by main mode the logit is calibrated to: Bærum RVU 2018 (car 57, walk 20,
/// PT 18, bike 4 %), with car split into driver/passenger and PT into bus/metro/rail as in
/// the national RVU's proportions (⚠ the split is an assumption; the totals are published).
pub const TARGET_SHARES: &[(Mode, f64)] = &[
    (Mode::Walk, 0.20),
    (Mode::Bike, 0.04),
    (Mode::CarDriver, 0.47),
    (Mode::CarPassenger, 0.10),
    (Mode::Bus, 0.12),
    (Mode::Metro, 0.02),
    (Mode::Rail, 0.04),
    (Mode::Taxi, 0.005),
    (Mode::Motorcycle, 0.005),
];

/// What decides the mode of a trip.
#[derive(Debug, Clone, Copy)]
struct Context {
    km: f64,
    age: i16,
    driver_ok: bool,
    cars: i16,
    oslo: bool,
}

fn utility(m: Mode, c: &Context) -> f64 {
    let ln = (1.0 + c.km).ln();
    match m {
        Mode::Walk => -1.7 * c.km,
        Mode::Bike => {
            -0.35 * c.km + if c.age < 18 { 0.6 } else { 0.0 } + if c.age > 70 { -1.2 } else { 0.0 }
        }
        Mode::CarDriver if !c.driver_ok => f64::NEG_INFINITY,
        Mode::CarDriver => 0.25 * ln + 0.3 * f64::from(c.cars.min(2)),
        Mode::CarPassenger => {
            (if c.cars == 0 { -1.0 } else { 0.0 }) + if c.age < 18 { 1.0 } else { 0.0 }
        }
        Mode::Bus => 0.4 * ln + if c.cars == 0 { 1.0 } else { 0.0 },
        Mode::Metro => 0.5 * ln + if c.oslo { 1.0 } else { 0.0 },
        Mode::Rail => 0.7 * ln + if c.oslo { 1.2 } else { 0.0 },
        Mode::Motorcycle if c.age < 16 => f64::NEG_INFINITY,
        _ => 0.0,
    }
}

/// The calibrated alternative-specific constants.
#[derive(Debug, Clone)]
pub struct ModeModel {
    asc: Vec<f64>,
}

impl ModeModel {
    fn probabilities(&self, c: &Context) -> [f64; 9] {
        let mut p = [0.0; 9];
        let mut total = 0.0;
        for (k, (m, _)) in TARGET_SHARES.iter().enumerate() {
            let u = utility(*m, c) + self.asc[k];
            p[k] = if u.is_finite() { u.exp() } else { 0.0 };
            total += p[k];
        }
        p.iter_mut().for_each(|v| *v /= total);
        p
    }

    fn choose(&self, c: &Context, rng: &mut impl Rng) -> Mode {
        let p = self.probabilities(c);
        let u = rng.random::<f64>();
        let mut acc = 0.0;
        for (k, pk) in p.iter().enumerate() {
            acc += pk;
            if u < acc {
                return TARGET_SHARES[k].0;
            }
        }
        TARGET_SHARES[TARGET_SHARES.len() - 1].0
    }

    /// Calibrates the constants on the trip contexts of a pilot sample so that the expected
    /// shares equal [`TARGET_SHARES`] (iterative log-ratio updates, as in travel-demand models).
    fn calibrate(contexts: &[Context]) -> Self {
        let mut model = Self {
            asc: vec![0.0; TARGET_SHARES.len()],
        };
        for _ in 0..60 {
            let mut share = vec![0.0; TARGET_SHARES.len()];
            for c in contexts {
                for (s, p) in share.iter_mut().zip(model.probabilities(c)) {
                    *s += p;
                }
            }
            for (k, (_, target)) in TARGET_SHARES.iter().enumerate() {
                model.asc[k] += (target / (share[k] / contexts.len() as f64)).ln();
            }
        }
        model
    }
}

/// One generated chunk of the survey, as canonical CSV rows (no header).
#[derive(Debug, Default)]
pub struct Chunk {
    pub households: String,
    pub persons: String,
    pub trips: String,
    pub n_persons: usize,
    pub n_trips: usize,
}

struct Person {
    id: i64,
    age: i16,
    band: usize,
    female: bool,
    employment: &'static str,
    license: bool,
    cars: i16,
    date: NaiveDate,
    home: (f64, f64),
}

/// Persons per chunk: chunks are generated in parallel, each from its own seed, so the result
/// is the same for a seed whatever the number of threads.
pub const CHUNK: usize = 10_000;

fn chunk_rng(seed: u64, chunk: usize, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul((chunk as u64).wrapping_add(1)),
    );
    rng.set_stream(stream);
    rng
}

fn pick<T: Copy>(rng: &mut impl Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut u = rng.random::<f64>() * total;
    for (t, w) in items {
        if u < *w {
            return *t;
        }
        u -= w;
    }
    items[items.len() - 1].0
}

fn normal(rng: &mut impl Rng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn person(rng: &mut impl Rng, id: i64, geo: &Geography) -> (Person, i16) {
    let band = pick(
        rng,
        &BANDS
            .iter()
            .enumerate()
            .map(|(i, b)| (i, b.3))
            .collect::<Vec<_>>(),
    );
    let (lo, hi, _, _) = BANDS[band];
    let age = rng.random_range(lo..=hi);
    let (zone, x, y) = geo.home(rng);
    let dense = geo.density[zone] > 0.5;
    let size = if age < 18 {
        rng.random_range(3..=5)
    } else {
        pick(
            rng,
            &[(1i16, 0.30), (2, 0.33), (3, 0.15), (4, 0.15), (5, 0.07)],
        )
    };
    let no_car = 0.12 + if dense { 0.10 } else { 0.0 } + if size == 1 { 0.10 } else { 0.0 };
    let cars = if rng.random::<f64>() < no_car {
        0
    } else {
        pick(rng, &[(1i16, 0.55), (2, 0.38), (3, 0.07)])
    };
    let employment = match age {
        13..=17 => "student",
        18..=29 => pick(
            rng,
            &[("student", 0.5), ("employed", 0.45), ("other", 0.05)],
        ),
        30..=66 => pick(rng, &[("employed", 0.82), ("other", 0.18)]),
        _ => pick(rng, &[("retired", 0.9), ("employed", 0.1)]),
    };
    let license = age >= 18 && rng.random::<f64>() < if age >= 67 { 0.8 } else { 0.88 };
    let date = NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid")
        + chrono::Days::new(rng.random_range(0..365));
    (
        Person {
            id,
            age,
            band,
            female: rng.random::<bool>(),
            employment,
            license,
            cars,
            date,
            home: (x, y),
        },
        size,
    )
}

/// Where and why a person goes: the activities of one tour.
fn activity(rng: &mut impl Rng, p: &Person, first: bool, weekend: bool) -> Purpose {
    if first && !weekend && p.employment == "employed" && rng.random::<f64>() < 0.7 {
        return Purpose::Work;
    }
    if first && !weekend && p.employment == "student" && rng.random::<f64>() < 0.75 {
        return Purpose::Education;
    }
    pick(
        rng,
        &[
            (Purpose::Shopping, 0.36),
            (Purpose::Leisure, 0.30),
            (Purpose::Escort, 0.14),
            (Purpose::Business, 0.04),
            (Purpose::Other, 0.06),
            (Purpose::Education, 0.02),
            (Purpose::Work, 0.08),
        ],
    )
}

fn hours(p: Purpose) -> f64 {
    match p {
        Purpose::Work => 8.0,
        Purpose::Education => 6.0,
        Purpose::Shopping => 0.5,
        Purpose::Escort => 0.15,
        Purpose::Leisure => 2.0,
        Purpose::Business => 1.5,
        _ => 1.0,
    }
}

fn speed_kmh(m: Mode) -> f64 {
    match m {
        Mode::Walk => 4.5,
        Mode::Bike => 15.0,
        Mode::Bus => 22.0,
        Mode::Metro => 30.0,
        Mode::Rail => 45.0,
        _ => 35.0,
    }
}

const KM_PER_DEG_LAT: f64 = 111.2;
const KM_PER_DEG_LON: f64 = 55.6; // at 60°N
/// Network distance over straight-line distance.
const DETOUR: f64 = 1.3;

fn km_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    ((a.0 - b.0) * KM_PER_DEG_LON).hypot((a.1 - b.1) * KM_PER_DEG_LAT) * DETOUR
}

struct Leg {
    purpose: Purpose,
    from: (f64, f64),
    to: (f64, f64),
    km: f64,
    oslo: bool,
}

/// The tours of a person's day (legs from home back home), without modes and times.
fn day(rng: &mut impl Rng, p: &Person) -> Vec<Vec<Leg>> {
    let immobile = if p.age >= 67 { 0.25 } else { 0.11 };
    if rng.random::<f64>() < immobile {
        return Vec::new();
    }
    let weekend = p.date.weekday().number_from_monday() >= 6;
    let tours = pick(rng, &[(1, 0.45), (2, 0.42), (3, 0.13)]);
    let mut day = Vec::new();
    for t in 0..tours {
        let mut legs = Vec::new();
        let stops = if rng.random::<f64>() < 0.35 { 2 } else { 1 };
        let mut here = p.home;
        let mut oslo_tour = false;
        for s in 0..stops {
            let purpose = activity(rng, p, t == 0 && s == 0, weekend);
            let to_oslo = rng.random::<f64>() < if purpose == Purpose::Work { 0.35 } else { 0.10 };
            let to = if to_oslo {
                (
                    10.70 + rng.random::<f64>() * 0.10,
                    59.90 + rng.random::<f64>() * 0.04,
                )
            } else {
                // Log-normal trip length: median 3.6 km of network distance.
                let km = (3.6f64.ln() + 0.95 * normal(rng)).exp().min(40.0);
                let angle = rng.random::<f64>() * std::f64::consts::TAU;
                let straight = km / DETOUR;
                (
                    here.0 + straight * angle.cos() / KM_PER_DEG_LON,
                    here.1 + straight * angle.sin() / KM_PER_DEG_LAT,
                )
            };
            oslo_tour |= to_oslo;
            legs.push(Leg {
                purpose,
                from: here,
                to,
                km: km_between(here, to),
                oslo: to_oslo,
            });
            here = to;
        }
        legs.push(Leg {
            purpose: Purpose::Home,
            from: here,
            to: p.home,
            km: km_between(here, p.home),
            oslo: oslo_tour,
        });
        day.push(legs);
    }
    day
}

fn context(p: &Person, l: &Leg) -> Context {
    Context {
        km: l.km,
        age: p.age,
        driver_ok: p.license && p.cars > 0,
        cars: p.cars,
        oslo: l.oslo,
    }
}

/// Calibrates the mode model on a pilot sample drawn from the seed.
pub fn mode_model(seed: u64, geo: &Geography) -> ModeModel {
    let mut rng = chunk_rng(seed, usize::MAX, 7);
    let mut contexts = Vec::new();
    for i in 0..6000 {
        let (p, _) = person(&mut rng, i, geo);
        contexts.extend(day(&mut rng, &p).iter().flatten().map(|l| context(&p, l)));
    }
    ModeModel::calibrate(&contexts)
}

fn fmt_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Generates chunk `c` of `persons` (persons `c*CHUNK ..`), as CSV rows.
pub fn chunk(
    seed: u64,
    c: usize,
    persons: usize,
    geo: &Geography,
    modes: &ModeModel,
) -> (Chunk, Vec<(usize, bool)>) {
    let mut rng = chunk_rng(seed, c, 1);
    let mut out = Chunk::default();
    let mut strata = Vec::with_capacity(persons);
    let base = (c * CHUNK) as i64;
    for i in 0..persons {
        let id = base + i as i64 + 1;
        let (p, size) = person(&mut rng, id, geo);
        strata.push((p.band, p.female));
        let _ = writeln!(
            out.households,
            "{},{:.6},{:.6},,{},{},",
            id, p.home.0, p.home.1, size, p.cars
        );
        // The weight column is filled by the caller once every stratum's sample size is known.
        let (lo, hi, _, _) = BANDS[p.band];
        let _ = write!(
            out.persons,
            "{},{},{},{},{},{},{{w}},{}-{}/{},{}\n",
            p.id,
            p.id,
            p.age,
            if p.female { "female" } else { "male" },
            p.employment,
            p.license,
            lo,
            hi,
            if p.female { "f" } else { "m" },
            p.date
        );
        let mut clock = p.date.and_hms_opt(0, 0, 0).expect("midnight");
        let evening = p.date.and_hms_opt(21, 0, 0).expect("21:00");
        let mut first = true;
        // A later tour starts only if the person is home before 21:00.
        let mut k = 0;
        for (t, legs) in day(&mut rng, &p).iter().enumerate() {
            if t > 0 && clock >= evening {
                break;
            }
            for leg in legs {
                let mode = modes.choose(&context(&p, leg), &mut rng);
                if first {
                    let start_h = match leg.purpose {
                        Purpose::Work => 7.4 + 0.8 * normal(&mut rng),
                        Purpose::Education => 7.8 + 0.3 * normal(&mut rng),
                        _ => 9.0 + rng.random::<f64>() * 9.0,
                    }
                    .clamp(5.0, 21.0);
                    clock += chrono::Duration::seconds((start_h * 3600.0) as i64);
                    first = false;
                }
                let travel = chrono::Duration::seconds(
                    (leg.km / speed_kmh(mode) * 3600.0) as i64 + 60 * rng.random_range(2..8),
                );
                let depart = clock;
                let arrive = depart + travel;
                let trip_id = base * 10 + out.n_trips as i64 + 1;
                k += 1;
                // Zone ids are left empty: ingest fills them by point-in-polygon, as for real data.
                let _ = writeln!(
                    out.trips,
                    "{},{},{},{},{},{},{},{:.3},{:.6},{:.6},{:.6},{:.6},,",
                    trip_id,
                    p.id,
                    k,
                    fmt_time(depart),
                    fmt_time(arrive),
                    leg.purpose,
                    mode,
                    leg.km,
                    leg.from.0,
                    leg.from.1,
                    leg.to.0,
                    leg.to.1
                );
                out.n_trips += 1;
                let stay = if leg.purpose == Purpose::Home {
                    0.5 + rng.random::<f64>() * 2.5
                } else {
                    hours(leg.purpose) * (0.6 + 0.8 * rng.random::<f64>())
                };
                clock = arrive + chrono::Duration::seconds((stay * 3600.0) as i64);
            }
        }
        out.n_persons += 1;
    }
    (out, strata)
}

/// The weight of each stratum (age band × gender): population over sample size.
pub fn weights(counts: &[[u64; 2]]) -> Vec<[f64; 2]> {
    counts
        .iter()
        .enumerate()
        .map(|(b, c)| {
            let pop = POPULATION_13_PLUS * BANDS[b].2 / 2.0;
            [0, 1].map(|g| if c[g] == 0 { 0.0 } else { pop / c[g] as f64 })
        })
        .collect()
}

/// The whole survey: (households, persons, trips) CSV text with headers.
pub fn generate(persons: usize, seed: u64, geo: &Geography) -> (String, String, String, usize) {
    let modes = mode_model(seed, geo);
    let chunks: Vec<(Chunk, Vec<(usize, bool)>)> = (0..persons.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| chunk(seed, c, CHUNK.min(persons - c * CHUNK), geo, &modes))
        .collect();
    let mut counts = vec![[0u64; 2]; BANDS.len()];
    for (_, strata) in &chunks {
        for (b, f) in strata {
            counts[*b][usize::from(*f)] += 1;
        }
    }
    let w = weights(&counts);
    let mut hh = String::from("household_id,home_lon,home_lat,home_zone_id,size,cars,weight\n");
    let mut ps = String::from(
        "person_id,household_id,age,gender,employment,has_license,weight,stratum,travel_date\n",
    );
    let mut ts = String::from(
        "trip_id,person_id,trip_no,depart_at,arrive_at,purpose,mode,distance_km,origin_lon,origin_lat,dest_lon,dest_lat,origin_zone_id,dest_zone_id\n",
    );
    let mut n_trips = 0;
    let texts: Vec<String> = chunks
        .par_iter()
        .map(|(c, strata)| {
            let mut out = String::with_capacity(c.persons.len() + strata.len() * 8);
            for (line, (b, f)) in c.persons.lines().zip(strata) {
                out.push_str(&line.replace("{w}", &format!("{:.4}", w[*b][usize::from(*f)])));
                out.push('\n');
            }
            out
        })
        .collect();
    for ((c, _), p) in chunks.iter().zip(texts) {
        hh.push_str(&c.households);
        ps.push_str(&p);
        ts.push_str(&c.trips);
        n_trips += c.n_trips;
    }
    (hh, ps, ts, n_trips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_reaches_the_targets_on_the_pilot() {
        let geo = Geography::new();
        let m = mode_model(1, &geo);
        let mut rng = chunk_rng(99, 0, 3);
        let mut contexts = Vec::new();
        for i in 0..3000 {
            let (p, _) = person(&mut rng, i, &geo);
            contexts.extend(day(&mut rng, &p).iter().flatten().map(|l| context(&p, l)));
        }
        let mut share = [0.0; 9];
        for c in &contexts {
            for (s, p) in share.iter_mut().zip(m.probabilities(c)) {
                *s += p / contexts.len() as f64;
            }
        }
        for (k, (mode, target)) in TARGET_SHARES.iter().enumerate() {
            assert!(
                (share[k] - target).abs() < 0.02,
                "{mode}: {} vs {target}",
                share[k]
            );
        }
    }

    #[test]
    fn same_seed_same_survey_and_weights_sum_to_the_population() {
        let geo = Geography::new();
        let a = generate(2500, 7, &geo);
        let b = generate(2500, 7, &geo);
        assert_eq!(a, b);
        let c = generate(2500, 8, &geo);
        assert_ne!(a.2, c.2);
        let total: f64 =
            a.1.lines()
                .skip(1)
                .map(|l| l.split(',').nth(6).unwrap().parse::<f64>().unwrap())
                .sum();
        assert!((total - POPULATION_13_PLUS).abs() < 1.0, "{total}");
    }

    /// The generated survey (not only the model) meets the published Bærum 2018 figures:
    /// car 57 %, walk 20 %, public transport 18 %, bike 4 % of trips; about 3 trips per person
    /// per day; half of the trips under 5 km.
    #[test]
    fn generated_survey_meets_the_published_figures() {
        let geo = Geography::new();
        let (_, persons, trips, n_trips) = generate(30_000, 3, &geo);
        let n_persons = persons.lines().count() - 1;
        let rows: Vec<Vec<&str>> = trips
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), n_trips);
        let per_person = n_trips as f64 / n_persons as f64;
        assert!((2.9..3.15).contains(&per_person), "{per_person}");
        let share = |f: &dyn Fn(&[&str]) -> bool| {
            rows.iter().filter(|r| f(r)).count() as f64 / n_trips as f64
        };
        let under5 = share(&|r| r[7].parse::<f64>().unwrap() < 5.0);
        assert!((0.47..0.53).contains(&under5), "{under5}");
        let car = share(&|r| r[6].starts_with("car_"));
        let walk = share(&|r| r[6] == "walk");
        let bike = share(&|r| r[6] == "bike");
        let pt = share(&|r| r[6].parse::<Mode>().unwrap().is_public_transport());
        for (what, got, want) in [
            ("car", car, 0.57),
            ("walk", walk, 0.20),
            ("pt", pt, 0.18),
            ("bike", bike, 0.04),
        ] {
            assert!((got - want).abs() < 0.015, "{what}: {got} vs {want}");
        }
    }
}
