//! Arrow schemas of the tables in a data directory (documented in `docs/data-model.md`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::Error;

/// A table of the data model. Each is stored as `<data-dir>/<name>/*.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Survey households.
    Households,
    /// Survey persons (respondents), including those without trips.
    Persons,
    /// Survey trips with main mode and purpose.
    Trips,
    /// Zones (municipalities, grunnkretser, custom), GeoParquet.
    Zones,
    /// Traffic registration points, GeoParquet.
    TrafficPoints,
    /// Hourly traffic volumes per lane, direction and total.
    TrafficHourly,
    /// Public-transport stops, GeoParquet.
    PtStops,
    /// Emission factors by year, mode and fuel.
    EmissionFactors,
    /// Share of vehicle-km by fuel.
    FleetMix,
    /// Persons per vehicle.
    Occupancy,
    /// Replicate weights a survey ships.
    ReplicateWeights,
    /// The population margins the person weights were calibrated to (`mobility weight`).
    CalibrationMargins,
    /// Statens vegvesen's traffic links (one direction each) with their ÅDT.
    RoadLinks,
}

impl Table {
    /// Every table, in documentation order.
    pub const ALL: &'static [Table] = &[
        Table::Households,
        Table::Persons,
        Table::Trips,
        Table::Zones,
        Table::TrafficPoints,
        Table::TrafficHourly,
        Table::PtStops,
        Table::EmissionFactors,
        Table::FleetMix,
        Table::Occupancy,
        Table::ReplicateWeights,
        Table::CalibrationMargins,
        Table::RoadLinks,
    ];

    /// The SQL name, also the folder name in a data directory.
    pub const fn name(self) -> &'static str {
        match self {
            Table::Households => "households",
            Table::Persons => "persons",
            Table::Trips => "trips",
            Table::Zones => "zones",
            Table::TrafficPoints => "traffic_points",
            Table::TrafficHourly => "traffic_hourly",
            Table::PtStops => "pt_stops",
            Table::EmissionFactors => "emission_factors",
            Table::FleetMix => "fleet_mix",
            Table::Occupancy => "occupancy",
            Table::ReplicateWeights => "replicate_weights",
            Table::CalibrationMargins => "calibration_margins",
            Table::RoadLinks => "road_links",
        }
    }

    /// Whether the table carries a WKB `geometry` column and is written as GeoParquet 1.1.
    pub const fn is_geo(self) -> bool {
        matches!(self, Table::Zones | Table::TrafficPoints | Table::PtStops)
    }

    /// The columns that identify a row: re-ingesting a row with the same key replaces it.
    pub const fn key(self) -> &'static [&'static str] {
        match self {
            Table::Households => &["household_id"],
            Table::Persons => &["person_id"],
            Table::Trips => &["trip_id"],
            Table::Zones => &["zone_id"],
            Table::TrafficPoints => &["trp_id"],
            Table::TrafficHourly => &["trp_id", "hour_start", "scope", "lane", "direction"],
            Table::PtStops => &["stop_id"],
            Table::EmissionFactors => &["year", "mode", "fuel"],
            Table::FleetMix => &["year", "mode", "fuel"],
            Table::Occupancy => &["year", "mode"],
            Table::ReplicateWeights => &["person_id", "replicate"],
            Table::CalibrationMargins => &["variable", "category"],
            Table::RoadLinks => &["link_id", "year"],
        }
    }

    /// Columns added to the model after data directories were written without them: a file
    /// without them is read with NULLs there.
    pub const fn added_later(self) -> &'static [&'static str] {
        match self {
            Table::Persons => &["base_weight"],
            Table::Trips => &["tour_id"],
            _ => &[],
        }
    }

    /// The Arrow schema of the table.
    pub fn schema(self) -> SchemaRef {
        let fields = match self {
            Table::Households => households(),
            Table::Persons => persons(),
            Table::Trips => trips(),
            Table::Zones => zones(),
            Table::TrafficPoints => traffic_points(),
            Table::PtStops => pt_stops(),
            Table::TrafficHourly => traffic_hourly(),
            Table::RoadLinks => road_links(),
            Table::EmissionFactors => emission_factors(),
            Table::FleetMix => fleet_mix(),
            Table::Occupancy => occupancy(),
            Table::ReplicateWeights => replicate_weights(),
            Table::CalibrationMargins => calibration_margins(),
        };
        Arc::new(Schema::new(fields))
    }
}

// The columns of each table, by group: survey, geo, traffic, factors, weights. Types: ids and
// counts BIGINT, small numbers SMALLINT, codes TEXT, measures DOUBLE.

/// A column.
fn f(name: &str, dt: DataType, nullable: bool) -> Field {
    Field::new(name, dt, nullable)
}

/// Ids and counts.
const ID: DataType = DataType::Int64;
/// Small integers: sizes, years, ages.
const SMALL: DataType = DataType::Int16;
/// Text.
const TEXT: DataType = DataType::Utf8;
/// Measures.
const NUM: DataType = DataType::Float64;

/// The WKB geometry of a geo table, EPSG:4326.
fn geometry(nullable: bool) -> Field {
    Field::new("geometry", DataType::Binary, nullable)
}

/// Survey households.
fn households() -> Vec<Field> {
    vec![
        f("household_id", ID, false),
        f("home_lon", NUM, true),
        f("home_lat", NUM, true),
        f("home_zone_id", TEXT, true),
        f("size", SMALL, true),
        f("cars", SMALL, true),
        f("weight", NUM, true),
    ]
}

/// Survey persons.
fn persons() -> Vec<Field> {
    vec![
        f("person_id", ID, false),
        f("household_id", ID, false),
        f("age", SMALL, true),
        f("gender", TEXT, true),
        f("employment", TEXT, true),
        f("has_license", DataType::Boolean, true),
        f("weight", NUM, false),
        f("stratum", TEXT, true),
        f("travel_date", DataType::Date32, true),
        f("base_weight", NUM, true),
    ]
}

/// Survey trips.
fn trips() -> Vec<Field> {
    vec![
        f("trip_id", ID, false),
        f("person_id", ID, false),
        f("trip_no", SMALL, true),
        f("depart_at", local_timestamp(), true),
        f("arrive_at", local_timestamp(), true),
        f("purpose", TEXT, true),
        f("mode", TEXT, true),
        f("distance_km", NUM, true),
        f("origin_lon", NUM, true),
        f("origin_lat", NUM, true),
        f("dest_lon", NUM, true),
        f("dest_lat", NUM, true),
        f("origin_zone_id", TEXT, true),
        f("dest_zone_id", TEXT, true),
        f("tour_id", ID, true),
    ]
}

/// Zones (geo).
fn zones() -> Vec<Field> {
    vec![
        f("zone_id", TEXT, false),
        f("name", TEXT, true),
        f("kind", TEXT, false),
        geometry(false),
    ]
}

/// Traffic registration points (geo); their geometry may be NULL.
fn traffic_points() -> Vec<Field> {
    vec![
        f("trp_id", TEXT, false),
        f("name", TEXT, true),
        f("road_reference", TEXT, true),
        f("road_category", TEXT, true),
        f("lon", NUM, true),
        f("lat", NUM, true),
        f("zone_id", TEXT, true),
        geometry(true),
    ]
}

/// Public-transport stops (geo).
fn pt_stops() -> Vec<Field> {
    vec![
        f("stop_id", TEXT, false),
        f("name", TEXT, true),
        f("lon", NUM, false),
        f("lat", NUM, false),
        geometry(false),
    ]
}

/// Hourly traffic volumes (traffic).
fn traffic_hourly() -> Vec<Field> {
    vec![
        f("trp_id", TEXT, false),
        f("hour_start", utc_timestamp(), false),
        f("scope", TEXT, false),
        f("lane", SMALL, true),
        f("direction", TEXT, true),
        f("volume", ID, true),
        f("coverage_pct", NUM, true),
        f("length_quality_pct", NUM, true),
        f("volume_lt_5_6m", ID, true),
        f("volume_ge_5_6m", ID, true),
        f("volume_5_6_7_6m", ID, true),
        f("volume_7_6_12_5m", ID, true),
        f("volume_12_5_16m", ID, true),
        f("volume_ge_16m", ID, true),
        f("volume_16_24m", ID, true),
        f("volume_ge_24m", ID, true),
    ]
}

/// Traffic links with their ÅDT (traffic).
fn road_links() -> Vec<Field> {
    vec![
        f("link_id", TEXT, false),
        f("year", SMALL, false),
        f("municipality_id", TEXT, true),
        f("county_id", TEXT, true),
        f("road_category", TEXT, true),
        f("road_reference", TEXT, true),
        f("length_m", NUM, true),
        f("aadt", NUM, true),
        f("aadt_year", SMALL, true),
        f("aadt_type", TEXT, true),
        f("aadt_source", TEXT, true),
        f("registration_frequency", TEXT, true),
        f("aadt_coverage", NUM, true),
        f("heavy_share", NUM, true),
        f("aadt_se", NUM, true),
        f("traffic_work_vkm", NUM, true),
    ]
}

/// Emission factors (factors).
fn emission_factors() -> Vec<Field> {
    vec![
        f("year", SMALL, false),
        f("mode", TEXT, false),
        f("fuel", TEXT, false),
        f("g_co2e_per_vkm", NUM, true),
        f("g_co2e_per_pkm", NUM, true),
        f("source", TEXT, false),
    ]
}

/// The fleet's share of vehicle-km by fuel (factors).
fn fleet_mix() -> Vec<Field> {
    vec![
        f("year", SMALL, false),
        f("mode", TEXT, false),
        f("fuel", TEXT, false),
        f("share_of_vkm", NUM, false),
        f("source", TEXT, false),
    ]
}

/// Persons per vehicle (factors).
fn occupancy() -> Vec<Field> {
    vec![
        f("year", SMALL, false),
        f("mode", TEXT, false),
        f("persons_per_vehicle", NUM, false),
        f("source", TEXT, false),
    ]
}

/// Replicate weights (weights).
fn replicate_weights() -> Vec<Field> {
    vec![
        f("person_id", ID, false),
        f("replicate", SMALL, false),
        f("weight", NUM, false),
    ]
}

/// The margins the weights were calibrated to (weights).
fn calibration_margins() -> Vec<Field> {
    vec![
        f("variable", TEXT, false),
        f("category", TEXT, false),
        f("total", NUM, false),
        f("base_total", NUM, false),
        f("calibrated_total", NUM, false),
    ]
}

/// Local wall-clock time without zone (survey departure and arrival).
pub fn local_timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// An instant in UTC (traffic hours).
pub fn utc_timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Table::ALL
            .iter()
            .copied()
            .find(|t| t.name() == s)
            .ok_or_else(|| Error::UnknownTable(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_columns_of_their_table() {
        for t in Table::ALL {
            let schema = t.schema();
            for k in t.key() {
                assert!(schema.field_with_name(k).is_ok(), "{t}: key {k} missing");
            }
            assert_eq!(
                t.is_geo(),
                schema.field_with_name("geometry").is_ok(),
                "{t}"
            );
            assert_eq!(t.name().parse::<Table>().unwrap(), *t);
        }
    }
}
