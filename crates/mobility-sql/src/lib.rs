//! The DataFusion session of mobility: every table of a data directory registered under its SQL
//! name, the shared views of `queries/views/`, and the project's SQL functions.
//!
//! - [`session::open`] makes a session over a data directory; the `mobility sql` shell, the
//!   batch run and the tests all start from it.
//! - [`functions::all`] is the one registry of the project's functions (geo: `ST_*`,
//!   `haversine_km`, `geodesic_km`; domain: `zone_of`, `nearest_stop_m`, `distance_band`).
//!   Each function is a file of its own in `functions/`, built on [`udf`]; geometry travels as
//!   plain WKB `BINARY` in EPSG:4326, never depending on Arrow field metadata.
//!
//! - [`spatial_join`] plans `JOIN … ON ST_Contains(polygon, ST_Point(lon, lat))` (and
//!   `ST_Within`, `ST_Intersects`) as an R-tree join instead of a nested loop, and
//!   `SpatialJoinCodec` sends that plan node over DataFusion's protobuf (Ballista).
//!
//! To add a function: a file in `functions/` with its documentation, kernel and tests, listed
//! in `functions::all`, and a `.slt` file in `tests/sql/`.

pub mod cluster;
pub mod functions;
pub mod lookup_once;
pub mod options;
pub mod remote;
pub mod session;
pub mod spatial_join;
pub mod udf;

pub use session::{
    DEFAULT_OD_PERIODS, Session, SessionOptions, machine_memory, open, open_with, parse_size,
    register_od_periods, register_values, release_free_memory,
};
