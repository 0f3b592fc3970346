//! `nearest_stop_m(lon, lat)`: metres (geodesic, WGS84) from a point to the nearest stop of the
//! session's `pt_stops`. Stops are indexed in an R-tree of unit vectors on the sphere, where the
//! nearest by chord is the nearest by great circle; the distance is then measured geodesically.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, Float64Array};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use geo::{Distance, Geodesic, Point};
use rayon::prelude::*;
use rstar::RTree;
use rstar::primitives::GeomWithData;

use crate::udf::{Arg, DOMAIN, arc, coerce, num};

/// Stops indexed for nearest look-ups.
pub struct StopIndex {
    tree: RTree<GeomWithData<[f64; 3], (f64, f64)>>,
}

fn unit(lon: f64, lat: f64) -> [f64; 3] {
    let (l, p) = (lon.to_radians(), lat.to_radians());
    [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()]
}

impl StopIndex {
    /// Indexes stops given as (lon, lat).
    pub fn new(stops: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self {
            tree: RTree::bulk_load(
                stops
                    .into_iter()
                    .map(|(x, y)| GeomWithData::new(unit(x, y), (x, y)))
                    .collect(),
            ),
        }
    }

    /// Metres to the nearest stop, `None` without stops.
    pub fn nearest_m(&self, lon: f64, lat: f64) -> Option<f64> {
        let n = self.tree.nearest_neighbor(&unit(lon, lat))?;
        Some(Geodesic.distance(Point::new(lon, lat), Point::new(n.data.0, n.data.1)))
    }
}

/// `nearest_stop_m` over the session's stops.
pub struct NearestStop {
    stops: Option<Arc<StopIndex>>,
    signature: Signature,
    doc: Documentation,
}

impl std::fmt::Debug for NearestStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nearest_stop_m({} stops)",
            self.stops.as_ref().map_or(0, |s| s.tree.size())
        )
    }
}
impl PartialEq for NearestStop {
    fn eq(&self, other: &Self) -> bool {
        match (&self.stops, &other.stops) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}
impl Eq for NearestStop {}
impl Hash for NearestStop {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "nearest_stop_m".hash(state);
        self.stops
            .as_ref()
            .map(|s| Arc::as_ptr(s) as usize)
            .hash(state);
    }
}

pub fn udf(stops: Option<Arc<StopIndex>>) -> ScalarUDF {
    let doc = Documentation::builder(DOMAIN, "Metres (geodesic, WGS84) from a lon/lat point to the nearest stop of the session's pt_stops; NULL when there are no stops.", "nearest_stop_m(lon, lat)")
        .with_argument("lon, lat", "the point, degrees EPSG:4326")
        .with_sql_example("SELECT avg(nearest_stop_m(home_lon, home_lat)) FROM households;")
        .build();
    ScalarUDF::new_from_impl(NearestStop {
        stops,
        signature: Signature::user_defined(Volatility::Immutable),
        doc,
    })
}

impl ScalarUDFImpl for NearestStop {
    fn name(&self) -> &str {
        "nearest_stop_m"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        coerce("nearest_stop_m", &[vec![Arg::Num, Arg::Num]], types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = ColumnarValue::values_to_arrays(&args.args)?;
        let (lon, lat) = (num(&a[0])?, num(&a[1])?);
        let out: Vec<Option<f64>> = (0..lon.len())
            .into_par_iter()
            .with_min_len(4096)
            .map(|i| {
                if lon.is_null(i) || lat.is_null(i) {
                    return None;
                }
                self.stops.as_ref()?.nearest_m(lon.value(i), lat.value(i))
            })
            .collect();
        Ok(ColumnarValue::Array(arc(Float64Array::from(out))))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}
