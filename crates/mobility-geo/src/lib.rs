//! Geo kernels of mobility, on `geo-types` only (no Arrow, no DataFusion), so each can be
//! tested against published or independent reference values directly.
//!
//! - [`wkb`]: geometry to and from Well-Known Binary, the encoding of every `geometry` column.
//! - [`crs`]: EPSG:25833 (ETRS89 / UTM 33N, Norway's usual CRS) to and from EPSG:4326 lon/lat.
//! - [`zone_index`]: point-in-polygon against many zones through a grid of their bounding
//!   boxes ([`grid`]), with exact tests only for candidates ([`prepared`]: edges binned in
//!   slabs), smallest zone first, parallel over points with rayon.
//! - [`valid`]: OGC validity (what is wrong and where), repair, ring orientation.
//!
//! To add a kernel: a file of its own with its tests beside it, re-exported here.

pub mod crs;
pub mod grid;
pub mod local;
pub mod prepared;
pub mod valid;
pub mod wkb;
pub mod zone_index;

pub use crs::Crs;
pub use zone_index::{Zone, ZoneIndex};

/// Errors of the geo kernels.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// WKB bytes that cannot be decoded.
    #[error("invalid WKB: {0}")]
    InvalidWkb(String),
    /// A geometry type the kernel does not handle.
    #[error("unsupported geometry: {0}")]
    Unsupported(String),
    /// A CRS other than the supported ones.
    #[error("unsupported CRS '{0}'; expected EPSG:4326 or EPSG:25833")]
    UnsupportedCrs(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
