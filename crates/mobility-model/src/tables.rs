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
        let f = |name: &str, dt: DataType, nullable: bool| Field::new(name, dt, nullable);
        let id = || DataType::Int64;
        let small = || DataType::Int16;
        let text = || DataType::Utf8;
        let num = || DataType::Float64;
        let geometry = || Field::new("geometry", DataType::Binary, false);
        let fields = match self {
            Table::Households => vec![
                f("household_id", id(), false),
                f("home_lon", num(), true),
                f("home_lat", num(), true),
                f("home_zone_id", text(), true),
                f("size", small(), true),
                f("cars", small(), true),
                f("weight", num(), true),
            ],
            Table::Persons => vec![
                f("person_id", id(), false),
                f("household_id", id(), false),
                f("age", small(), true),
                f("gender", text(), true),
                f("employment", text(), true),
                f("has_license", DataType::Boolean, true),
                f("weight", num(), false),
                f("stratum", text(), true),
                f("travel_date", DataType::Date32, true),
                f("base_weight", num(), true),
            ],
            Table::Trips => vec![
                f("trip_id", id(), false),
                f("person_id", id(), false),
                f("trip_no", small(), true),
                f("depart_at", local_timestamp(), true),
                f("arrive_at", local_timestamp(), true),
                f("purpose", text(), true),
                f("mode", text(), true),
                f("distance_km", num(), true),
                f("origin_lon", num(), true),
                f("origin_lat", num(), true),
                f("dest_lon", num(), true),
                f("dest_lat", num(), true),
                f("origin_zone_id", text(), true),
                f("dest_zone_id", text(), true),
                f("tour_id", id(), true),
            ],
            Table::Zones => vec![
                f("zone_id", text(), false),
                f("name", text(), true),
                f("kind", text(), false),
                geometry(),
            ],
            Table::TrafficPoints => vec![
                f("trp_id", text(), false),
                f("name", text(), true),
                f("road_reference", text(), true),
                f("road_category", text(), true),
                f("lon", num(), true),
                f("lat", num(), true),
                f("zone_id", text(), true),
                Field::new("geometry", DataType::Binary, true),
            ],
            Table::TrafficHourly => vec![
                f("trp_id", text(), false),
                f("hour_start", utc_timestamp(), false),
                f("scope", text(), false),
                f("lane", small(), true),
                f("direction", text(), true),
                f("volume", id(), true),
                f("coverage_pct", num(), true),
                f("length_quality_pct", num(), true),
                f("volume_lt_5_6m", id(), true),
                f("volume_ge_5_6m", id(), true),
                f("volume_5_6_7_6m", id(), true),
                f("volume_7_6_12_5m", id(), true),
                f("volume_12_5_16m", id(), true),
                f("volume_ge_16m", id(), true),
                f("volume_16_24m", id(), true),
                f("volume_ge_24m", id(), true),
            ],
            Table::PtStops => vec![
                f("stop_id", text(), false),
                f("name", text(), true),
                f("lon", num(), false),
                f("lat", num(), false),
                geometry(),
            ],
            Table::EmissionFactors => vec![
                f("year", small(), false),
                f("mode", text(), false),
                f("fuel", text(), false),
                f("g_co2e_per_vkm", num(), true),
                f("g_co2e_per_pkm", num(), true),
                f("source", text(), false),
            ],
            Table::FleetMix => vec![
                f("year", small(), false),
                f("mode", text(), false),
                f("fuel", text(), false),
                f("share_of_vkm", num(), false),
                f("source", text(), false),
            ],
            Table::Occupancy => vec![
                f("year", small(), false),
                f("mode", text(), false),
                f("persons_per_vehicle", num(), false),
                f("source", text(), false),
            ],
            Table::ReplicateWeights => vec![
                f("person_id", id(), false),
                f("replicate", small(), false),
                f("weight", num(), false),
            ],
            Table::CalibrationMargins => vec![
                f("variable", text(), false),
                f("category", text(), false),
                f("total", num(), false),
                f("base_total", num(), false),
                f("calibrated_total", num(), false),
            ],
            Table::RoadLinks => vec![
                f("link_id", text(), false),
                f("year", small(), false),
                f("municipality_id", text(), true),
                f("county_id", text(), true),
                f("road_category", text(), true),
                f("road_reference", text(), true),
                f("length_m", num(), true),
                f("aadt", num(), true),
                f("aadt_year", small(), true),
                f("aadt_type", text(), true),
                f("aadt_source", text(), true),
                f("registration_frequency", text(), true),
                f("aadt_coverage", num(), true),
                f("heavy_share", num(), true),
                f("aadt_se", num(), true),
                f("traffic_work_vkm", num(), true),
            ],
        };
        Arc::new(Schema::new(fields))
    }
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
