//! GeoParquet 1.1 file metadata for the tables and outputs with a `geometry` column.

/// The `geo` key-value of a GeoParquet 1.1 file whose `geometry` column is WKB in lon/lat
/// (OGC:CRS84, the default when `crs` is absent), with the geometry types present and, when any
/// geometry has coordinates, their bounding box `[xmin, ymin, xmax, ymax]`.
///
/// ```
/// let json = mobility_model::geoparquet::file_metadata(["Polygon"], Some([10.0, 59.0, 11.0, 60.0]));
/// let v: serde_json::Value = serde_json::from_str(&json).unwrap();
/// assert_eq!(v["version"], "1.1.0");
/// assert_eq!(v["primary_column"], "geometry");
/// assert_eq!(v["columns"]["geometry"]["encoding"], "WKB");
/// assert_eq!(v["columns"]["geometry"]["geometry_types"][0], "Polygon");
/// assert_eq!(v["columns"]["geometry"]["bbox"][3], 60.0);
/// ```
pub fn file_metadata<'a>(
    types: impl IntoIterator<Item = &'a str>,
    bbox: Option<[f64; 4]>,
) -> String {
    let mut column = serde_json::json!({
        "encoding": "WKB",
        "geometry_types": types.into_iter().collect::<Vec<_>>(),
    });
    if let Some(b) = bbox.filter(|b| b.iter().all(|v| v.is_finite())) {
        column["bbox"] = serde_json::json!(b);
    }
    serde_json::json!({
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": { "geometry": column },
    })
    .to_string()
}
