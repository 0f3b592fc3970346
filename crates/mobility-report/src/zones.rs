//! The zones the maps draw, from the run's `zones` table (`geo/zones.parquet`).

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use geo::MultiPolygon;
use mobility_model::columns::utf8;

use crate::Tables;

/// A zone of the maps: id, name (empty when it has none) and area.
pub(crate) struct MapArea {
    pub id: String,
    pub name: String,
    pub geometry: MultiPolygon<f64>,
}

/// The zones whose geometry is an area, and the zones whose geometry does not decode, each
/// named with why (the report names them under the map rather than leave them out unseen).
pub(crate) fn read(tables: &Tables) -> (Vec<MapArea>, Vec<String>) {
    let (mut areas, mut undrawn) = (Vec::new(), Vec::new());
    let Some(b) = tables.get("zones") else {
        return (areas, undrawn);
    };
    let (Some(id), Some(name), Some(g)) = (
        utf8(b, "zone_id"),
        utf8(b, "name"),
        b.column_by_name("geometry")
            .and_then(|g| arrow::compute::cast(g, &DataType::Binary).ok()),
    ) else {
        return (areas, undrawn);
    };
    let g = g.as_binary::<i32>();
    // The run writes NULL where a zone's geometry does not decode, and why.
    let error = utf8(b, "geometry_error");
    for i in 0..b.num_rows() {
        if g.is_null(i) {
            if let Some(why) = error.as_ref().filter(|e| e.is_valid(i)) {
                undrawn.push(format!("{} ({})", id.value(i), why.value(i)));
            }
            continue;
        }
        match mobility_geo::Zone::from_wkb(id.value(i), "", g.value(i)) {
            Ok(Some(z)) => areas.push(MapArea {
                id: id.value(i).to_string(),
                name: if name.is_valid(i) {
                    name.value(i).to_string()
                } else {
                    String::new()
                },
                geometry: z.geometry,
            }),
            // Not an area (a point or a line): not a zone of the map.
            Ok(None) => {}
            Err(e) => undrawn.push(format!("{} ({e})", id.value(i))),
        }
    }
    (areas, undrawn)
}
