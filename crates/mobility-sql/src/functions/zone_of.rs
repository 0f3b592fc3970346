//! `zone_of(lon, lat [, kind])`: the id of the session's zone holding a point, through the same
//! `ZoneIndex` as ingest (R-tree candidates, exact test, rayon over rows). Rule for a point in
//! several zones: the smallest by area, then the lowest id; edges count as inside.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use datafusion::logical_expr::Documentation as Doc;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use mobility_geo::{Zone, ZoneIndex};

use crate::udf::{Arg, DOMAIN, arc, coerce, num, text};

/// `zone_of` over the session's zones.
pub struct ZoneOf {
    zones: Arc<Vec<Zone>>,
    indexes: Mutex<HashMap<Option<String>, Arc<ZoneIndex>>>,
    signature: Signature,
    doc: Doc,
}

impl std::fmt::Debug for ZoneOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "zone_of({} zones)", self.zones.len())
    }
}

impl PartialEq for ZoneOf {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.zones, &other.zones)
    }
}
impl Eq for ZoneOf {}
impl Hash for ZoneOf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "zone_of".hash(state);
        (Arc::as_ptr(&self.zones) as usize).hash(state);
    }
}

const ARITIES: fn() -> Vec<Vec<Arg>> = || {
    vec![
        vec![Arg::Num, Arg::Num],
        vec![Arg::Num, Arg::Num, Arg::Text],
    ]
};

pub fn udf(zones: Arc<Vec<Zone>>) -> ScalarUDF {
    let doc = Documentation::builder(DOMAIN, "The zone_id of the session's zone holding a lon/lat point, optionally only zones of one kind; NULL outside every zone. A point in several zones gets the smallest (then the lowest id); edges count as inside.", "zone_of(lon, lat [, kind])")
        .with_argument("lon, lat", "the point, degrees EPSG:4326")
        .with_argument("kind", "optional: 'kommune', 'grunnkrets', ...")
        .with_sql_example("SELECT zone_of(origin_lon, origin_lat, 'kommune') AS kommune, count(*) FROM trips GROUP BY 1;")
        .build();
    ScalarUDF::new_from_impl(ZoneOf {
        zones,
        indexes: Mutex::new(HashMap::new()),
        signature: Signature::user_defined(Volatility::Immutable),
        doc,
    })
}

impl ZoneOf {
    fn index(&self, kind: Option<&str>) -> Arc<ZoneIndex> {
        let mut m = self.indexes.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(kind.map(str::to_string))
            .or_insert_with(|| Arc::new(ZoneIndex::new(self.zones.iter().cloned(), kind)))
            .clone()
    }
}

impl ScalarUDFImpl for ZoneOf {
    fn name(&self) -> &str {
        "zone_of"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        coerce("zone_of", &ARITIES(), types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = ColumnarValue::values_to_arrays(&args.args)?;
        let (lon, lat) = (num(&a[0])?, num(&a[1])?);
        let kind = match a.get(2) {
            None => None,
            Some(k) => {
                let k = text(k)?;
                let first = (k.len() > 0 && k.is_valid(0)).then(|| k.value(0));
                if (0..k.len()).any(|i| {
                    k.is_valid(i) != k.is_valid(0) || (k.is_valid(i) && Some(k.value(i)) != first)
                }) {
                    return exec_err!(
                        "zone_of: kind must be the same for every row (a literal such as 'kommune')"
                    );
                }
                first.map(str::to_string)
            }
        };
        let index = self.index(kind.as_deref());
        let pts: Vec<(f64, f64)> = (0..lon.len())
            .map(|i| {
                if lon.is_null(i) || lat.is_null(i) {
                    (f64::NAN, f64::NAN)
                } else {
                    (lon.value(i), lat.value(i))
                }
            })
            .collect();
        let out: StringArray = index
            .locate_all(&pts)
            .into_iter()
            .map(|z| z.map(|z| index.zone(z).id.as_str()))
            .collect();
        Ok(ColumnarValue::Array(arc(out)))
    }
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&self.doc)
    }
}
