//! The indicator catalog: `queries/<id>.sql` files with a header of `-- key: value` lines:
//! `title`, `unit`, `needs` (tables), `estimator` (mean, share, ratio, total: a survey
//! indicator, see [`crate::survey`]; absent: the query's result is the table), `variance:
//! bootstrap`, `cells: observed` (report only the cells someone in the domain contributes to,
//! for sparse keys such as zone pairs), and `scenario` (run only with `--scenario <name>=<value>`).

use crate::survey::Estimator;

/// The built-in indicators: (id, SQL).
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "trips_per_person_day",
        include_str!("../../../queries/trips_per_person_day.sql"),
    ),
    (
        "km_per_person_day",
        include_str!("../../../queries/km_per_person_day.sql"),
    ),
    (
        "mode_share_trips",
        include_str!("../../../queries/mode_share_trips.sql"),
    ),
    (
        "mode_share_km",
        include_str!("../../../queries/mode_share_km.sql"),
    ),
    (
        "car_vkm_per_person_day",
        include_str!("../../../queries/car_vkm_per_person_day.sql"),
    ),
    (
        "car_vkm_year",
        include_str!("../../../queries/car_vkm_year.sql"),
    ),
    (
        "car_occupancy",
        include_str!("../../../queries/car_occupancy.sql"),
    ),
    (
        "short_car_trip_share",
        include_str!("../../../queries/short_car_trip_share.sql"),
    ),
    (
        "sustainable_share",
        include_str!("../../../queries/sustainable_share.sql"),
    ),
    (
        "trip_length_by_mode",
        include_str!("../../../queries/trip_length_by_mode.sql"),
    ),
    (
        "trips_by_purpose",
        include_str!("../../../queries/trips_by_purpose.sql"),
    ),
    (
        "departure_profile",
        include_str!("../../../queries/departure_profile.sql"),
    ),
    (
        "median_trip_length_by_mode",
        include_str!("../../../queries/median_trip_length_by_mode.sql"),
    ),
    (
        "co2e_per_person_year",
        include_str!("../../../queries/co2e_per_person_year.sql"),
    ),
    (
        "co2e_by_mode",
        include_str!("../../../queries/co2e_by_mode.sql"),
    ),
    (
        "co2e_total_tonnes",
        include_str!("../../../queries/co2e_total_tonnes.sql"),
    ),
    ("od_trips", include_str!("../../../queries/od_trips.sql")),
    (
        "od_trips_by_mode",
        include_str!("../../../queries/od_trips_by_mode.sql"),
    ),
    (
        "od_trips_by_period",
        include_str!("../../../queries/od_trips_by_period.sql"),
    ),
    (
        "od_trips_municipality",
        include_str!("../../../queries/od_trips_municipality.sql"),
    ),
    (
        "trips_produced",
        include_str!("../../../queries/trips_produced.sql"),
    ),
    (
        "trips_attracted",
        include_str!("../../../queries/trips_attracted.sql"),
    ),
    ("pt_access", include_str!("../../../queries/pt_access.sql")),
    (
        "population",
        include_str!("../../../queries/population.sql"),
    ),
    ("road_vkm", include_str!("../../../queries/road_vkm.sql")),
    ("road_co2e", include_str!("../../../queries/road_co2e.sql")),
    (
        "scenario_shift_short_car_trips",
        include_str!("../../../queries/scenario_shift_short_car_trips.sql"),
    ),
];

/// The tables a run writes beside the indicators for what the report draws (and planners
/// read): `queries/tables/<id>.sql`, finished tables with their SE and n where they are
/// estimates, skipped with a note when a table they need is missing.
pub const TABLES: &[(&str, &str)] = &[
    (
        "traffic_hourly_profile",
        include_str!("../../../queries/tables/traffic_hourly_profile.sql"),
    ),
    (
        "traffic_weekday_profile",
        include_str!("../../../queries/tables/traffic_weekday_profile.sql"),
    ),
    (
        "counting_points",
        include_str!("../../../queries/tables/counting_points.sql"),
    ),
    (
        "emission_factors",
        include_str!("../../../queries/tables/emission_factors.sql"),
    ),
];

/// How a query's output becomes an indicator table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Person-level contributions for the survey estimators ([`crate::survey`]).
    Survey {
        /// How cells are formed.
        estimator: Estimator,
        /// Whether the SE comes from the Rao–Wu bootstrap rather than linearisation.
        bootstrap: bool,
        /// Only cells with a contribution in their domain (`cells: observed`), not every key
        /// in every domain.
        observed_only: bool,
    },
    /// A finished table.
    Table,
}

/// One indicator.
#[derive(Debug, Clone)]
pub struct Indicator {
    /// The id, also the output file name.
    pub id: String,
    /// A title for people.
    pub title: String,
    /// How the output is post-processed.
    pub kind: Kind,
    /// Unit of `estimate`.
    pub unit: String,
    /// Tables the query reads; the indicator is skipped, with a note, when one is missing.
    pub needs: Vec<String>,
    /// The scenario the indicator needs (`--scenario <name>=<value>`); its SQL holds the
    /// named parameter `$<name with _ for ->` where the value goes
    /// ([`scenario_placeholder`]).
    pub scenario: Option<String>,
    /// The SQL.
    pub sql: String,
}

impl Indicator {
    /// Parses an indicator's SQL and header.
    pub fn parse(id: &str, sql: &str) -> Self {
        let header = |key: &str| {
            sql.lines()
                .take_while(|l| l.starts_with("--"))
                .find_map(|l| {
                    l.trim_start_matches("--")
                        .trim()
                        .strip_prefix(&format!("{key}:"))
                        .map(|v| v.trim().to_string())
                })
        };
        Self {
            id: id.to_string(),
            title: header("title").unwrap_or_else(|| id.to_string()),
            kind: match header("estimator").as_deref().and_then(Estimator::parse) {
                Some(estimator) => Kind::Survey {
                    estimator,
                    bootstrap: header("variance").as_deref() == Some("bootstrap"),
                    observed_only: header("cells").as_deref() == Some("observed"),
                },
                None => Kind::Table,
            },
            scenario: header("scenario"),
            unit: header("unit").unwrap_or_default(),
            needs: header("needs")
                .map(|n| {
                    n.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            sql: sql.to_string(),
        }
    }
}

/// The name of a scenario's placeholder in its SQL: `shift-short-car-trips` is
/// `$shift_short_car_trips` (DataFusion's named parameters are identifiers).
pub fn scenario_placeholder(name: &str) -> String {
    name.replace('-', "_")
}

/// The built-in catalog.
pub fn built_in() -> Vec<Indicator> {
    BUILT_IN
        .iter()
        .map(|(id, sql)| Indicator::parse(id, sql))
        .collect()
}

/// The tables of [`TABLES`].
pub fn tables() -> Vec<Indicator> {
    TABLES
        .iter()
        .map(|(id, sql)| Indicator::parse(id, sql))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_has_a_header() {
        for i in built_in() {
            assert_ne!(i.title, i.id, "{} has no title", i.id);
            assert!(!i.unit.is_empty(), "{} has no unit", i.id);
            assert!(!i.needs.is_empty(), "{} needs no table", i.id);
            // Finished tables are the road figures, whose uncertainty their SQL computes.
            assert!(
                matches!(i.kind, Kind::Survey { .. }) || i.id.starts_with("road_"),
                "{} has no estimator",
                i.id
            );
        }
    }

    /// Each query file is SQL on its own, as a planner reads it: a scenario's value is a
    /// DataFusion named parameter, not text pasted in.
    #[test]
    fn every_built_in_query_parses_as_sql_on_its_own() {
        for ind in built_in() {
            let parsed = datafusion::sql::parser::DFParser::parse_sql(&ind.sql);
            assert!(parsed.is_ok(), "{}: {:?}", ind.id, parsed.err());
            if let Some(name) = &ind.scenario {
                let p = format!("${}", scenario_placeholder(name));
                assert!(ind.sql.contains(&p), "{}: no {p}", ind.id);
            }
        }
        // The traffic indices' queries (queries/traffic/), each with a title and its tables.
        for (name, sql) in crate::traffic::QUERIES {
            let parsed = datafusion::sql::parser::DFParser::parse_sql(sql);
            assert!(parsed.is_ok(), "traffic/{name}.sql: {:?}", parsed.err());
            let header = Indicator::parse(name, sql);
            assert_ne!(header.title, *name, "traffic/{name}.sql has no title");
            assert!(
                !header.needs.is_empty(),
                "traffic/{name}.sql needs no table"
            );
        }
    }
}
