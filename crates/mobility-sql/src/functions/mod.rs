//! Every SQL function of the project, one file each, and the one registry that lists them.

mod area_traffic_index;
mod calendar_day_class;
mod daily_average;
mod day_type;
mod days_in;
mod distance_band;
mod geodesic_km;
mod haversine_km;
mod is_holiday;
mod nearest_stop_m;
mod st_area;
mod st_astext;
mod st_buffer;
mod st_centroid;
mod st_distance;
mod st_geomfromtext;
mod st_geomfromwkb;
mod st_isvalid;
mod st_length;
mod st_point;
mod st_predicates;
mod st_transform;
mod trp_kind;
mod zone_of;

pub use nearest_stop_m::StopIndex;

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

/// What stateful functions look things up in: the session's zones and stops.
#[derive(Clone, Default)]
pub struct Lookups {
    /// The zones (all kinds).
    pub zones: Option<Arc<Vec<mobility_geo::Zone>>>,
    /// The public-transport stops.
    pub stops: Option<Arc<StopIndex>>,
    /// Public holidays: Norway's and the kommune's own (`mobility.toml`'s `holidays`).
    pub calendar: Arc<mobility_stats::calendar::Calendar>,
}

/// The registry: every function of the project. The session, the test context and a remote
/// executor all register from here, so a function cannot exist in one and be missing in another.
pub fn all(lookups: &Lookups) -> Vec<ScalarUDF> {
    let zones = lookups.zones.clone().unwrap_or_default();
    vec![
        haversine_km::udf(),
        geodesic_km::udf(),
        distance_band::udf(),
        days_in::udf(Arc::clone(&lookups.calendar)),
        is_holiday::udf(Arc::clone(&lookups.calendar)),
        day_type::udf(Arc::clone(&lookups.calendar)),
        calendar_day_class::udf(),
        calendar_day_class::weight(),
        trp_kind::udf(),
        st_point::udf(),
        st_geomfromwkb::udf(),
        st_geomfromtext::udf(),
        st_astext::udf(),
        st_predicates::contains(),
        st_predicates::intersects(),
        st_predicates::within(),
        st_distance::udf(),
        st_length::udf(),
        st_area::udf(),
        st_isvalid::is_valid(),
        st_isvalid::is_valid_reason(),
        st_centroid::udf(),
        st_buffer::udf(),
        st_transform::udf(),
        zone_of::udf(zones),
        nearest_stop_m::udf(lookups.stops.clone()),
    ]
}

/// The project's aggregate functions.
pub fn aggregates() -> Vec<AggregateUDF> {
    vec![area_traffic_index::udaf(), daily_average::udaf()]
}
