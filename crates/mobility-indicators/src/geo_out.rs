//! Zone-level and point-level indicators as GeoParquet 1.1 (with the `geo` metadata) and
//! GeoJSON, so QGIS, GeoPandas and DuckDB open them as they are: `<out>/geo/<id>_home_zone.*`
//! for every indicator with a `home_zone` breakdown (its rows with the zone's geometry),
//! `<out>/geo/<id>_desire_lines.*` for the origin–destination indicators (a line from the
//! origin zone's centroid to the destination's per flow of breakdown `all`, with its estimate
//! and CI; flows within a zone and to or from `outside` have no line), and
//! `<out>/geo/traffic_points_adt.*` (each counting point's ÅDT per year).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::batches::collect_if;
use crate::{Error, Result, io};

/// Writes the geo outputs into `dir`; returns the files written.
pub async fn write(
    ctx: &SessionContext,
    outputs: &HashMap<String, RecordBatch>,
    dir: &Path,
) -> Result<Vec<String>> {
    let mut written = Vec::new();
    let mut geom: HashMap<String, Vec<u8>> = HashMap::new();
    for b in collect_if(
        ctx,
        &["zones"],
        "geo: zones",
        "SELECT zone_id, geometry FROM zones",
    )
    .await?
    {
        let id = arrow::compute::cast(b.column(0), &DataType::Utf8)?;
        let g = arrow::compute::cast(b.column(1), &DataType::Binary)?;
        let (id, g) = (id.as_string::<i32>(), g.as_binary::<i32>());
        for i in 0..b.num_rows() {
            geom.insert(id.value(i).to_string(), g.value(i).to_vec());
        }
    }
    let mut ids: Vec<&String> = outputs.keys().collect();
    ids.sort();
    for id in ids {
        let b = &outputs[id];
        // A flow's home-zone rows would repeat the zone's outline for every pair of zones: the
        // origin-destination indicators have desire lines instead.
        if b.column_by_name("origin_zone_id").is_some() {
            continue;
        }
        let (Some(bd), Some(bv)) = (
            b.column_by_name("breakdown"),
            b.column_by_name("breakdown_value"),
        ) else {
            continue;
        };
        let bd = arrow::compute::cast(bd, &DataType::Utf8)?;
        let bv = arrow::compute::cast(bv, &DataType::Utf8)?;
        let (bd, bv) = (bd.as_string::<i32>(), bv.as_string::<i32>());
        let rows: Vec<u32> = (0..b.num_rows())
            .filter(|&i| {
                bd.value(i) == "home_zone" && bv.is_valid(i) && geom.contains_key(bv.value(i))
            })
            .map(|i| i as u32)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let take = UInt32Array::from(rows.clone());
        let mut fields = vec![Field::new("zone_id", DataType::Utf8, false)];
        let mut cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
            rows.iter().map(|&i| bv.value(i as usize)),
        ))];
        for (f, c) in b.schema().fields().iter().zip(b.columns()) {
            if f.name() == "breakdown" || f.name() == "breakdown_value" {
                continue;
            }
            fields.push(f.as_ref().clone());
            cols.push(arrow::compute::take(c, &take, None)?);
        }
        fields.push(Field::new("geometry", DataType::Binary, false));
        cols.push(Arc::new(BinaryArray::from_iter_values(
            rows.iter().map(|&i| geom[bv.value(i as usize)].as_slice()),
        )));
        let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?;
        written.extend(write_both(dir, &format!("{id}_home_zone"), &out)?);
    }
    let centroids: HashMap<&String, geo::Point<f64>> = geom
        .iter()
        .filter_map(|(id, wkb)| {
            let g = mobility_geo::wkb::from_wkb(wkb).ok()?;
            geo::Centroid::centroid(&g).map(|c| (id, c))
        })
        .collect();
    for id in ["od_trips", "od_trips_by_mode", "od_trips_municipality"] {
        if let Some(b) = outputs.get(id)
            && let Some(lines) = desire_lines(b, &centroids)?
        {
            written.extend(write_both(dir, &format!("{id}_desire_lines"), &lines)?);
        }
    }
    let pts = collect_if(
        ctx,
        &["traffic_points", "traffic_adt"],
        "geo: counting points",
        "SELECT p.trp_id, p.name, a.year, a.adt, a.adt_lt_5_6m, a.adt_ge_5_6m, a.heavy_share, a.coverage_pct, a.n_days, \
         arrow_cast(p.geometry, 'Binary') AS geometry \
         FROM traffic_points p JOIN traffic_adt a ON a.trp_id = p.trp_id \
         WHERE a.day_type = 'all' AND p.geometry IS NOT NULL ORDER BY p.trp_id, a.year",
    )
    .await?;
    let pts: Vec<RecordBatch> = pts.into_iter().filter(|b| b.num_rows() > 0).collect();
    if let Some(first) = pts.first() {
        let all = arrow::compute::concat_batches(&first.schema(), &pts)?;
        written.extend(write_both(dir, "traffic_points_adt", &all)?);
    }
    Ok(written)
}

/// The flows of breakdown `all` between two different zones with a centroid, each with a line
/// from the origin's centroid to the destination's; `None` when there are none.
fn desire_lines(
    b: &RecordBatch,
    centroids: &HashMap<&String, geo::Point<f64>>,
) -> Result<Option<RecordBatch>> {
    let (Some(bd), Some(o), Some(d)) = (
        crate::batches::utf8(b, "breakdown"),
        crate::batches::utf8(b, "origin_zone_id"),
        crate::batches::utf8(b, "dest_zone_id"),
    ) else {
        return Ok(None);
    };
    let ends = |i: usize| {
        let (o, d) = (o.value(i).to_string(), d.value(i).to_string());
        Some((*centroids.get(&o)?, *centroids.get(&d)?))
    };
    let rows: Vec<u32> = (0..b.num_rows())
        .filter(|&i| bd.value(i) == "all" && o.value(i) != d.value(i) && ends(i).is_some())
        .map(|i| i as u32)
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let take = UInt32Array::from(rows.clone());
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        if f.name() == "breakdown" || f.name() == "breakdown_value" {
            continue;
        }
        fields.push(f.as_ref().clone());
        cols.push(arrow::compute::take(c, &take, None)?);
    }
    let mut wkb = Vec::with_capacity(rows.len());
    for &i in &rows {
        let (a, z) = ends(i as usize).expect("filtered");
        let line = geo::Geometry::LineString(geo::LineString::from(vec![a, z]));
        wkb.push(mobility_geo::wkb::to_wkb(&line).map_err(|e| Error::Shape {
            id: "desire lines".into(),
            message: e.to_string(),
        })?);
    }
    fields.push(Field::new("geometry", DataType::Binary, false));
    cols.push(Arc::new(BinaryArray::from_iter_values(
        wkb.iter().map(Vec::as_slice),
    )));
    Ok(Some(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        cols,
    )?))
}

/// `<name>.parquet` (GeoParquet 1.1) and `<name>.geojson`.
fn write_both(dir: &Path, name: &str, batch: &RecordBatch) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let pq = dir.join(format!("{name}.parquet"));
    let shape = |message: String| Error::Shape {
        id: name.to_string(),
        message,
    };
    let wkb = batch
        .column_by_name("geometry")
        .and_then(|c| c.as_any().downcast_ref::<BinaryArray>())
        .ok_or_else(|| shape("no binary geometry column".into()))?;
    let extent =
        mobility_geo::wkb::Extent::of(wkb.iter().flatten()).map_err(|e| shape(e.to_string()))?;
    let meta = mobility_model::geoparquet::file_metadata(extent.types, extent.bbox);
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new("geo".to_string(), meta)]))
        .build();
    let file = std::fs::File::create(&pq).map_err(io(&pq))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    let gj = dir.join(format!("{name}.geojson"));
    std::fs::write(&gj, geojson(batch)?).map_err(io(&gj))?;
    Ok(vec![
        format!("geo/{name}.parquet"),
        format!("geo/{name}.geojson"),
    ])
}

/// A FeatureCollection: `geometry` as GeoJSON, every other column a property.
fn geojson(batch: &RecordBatch) -> Result<String> {
    let g = batch
        .column_by_name("geometry")
        .expect("geometry column")
        .as_binary::<i32>()
        .clone();
    let props: Vec<(String, ArrayRef)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| f.name() != "geometry")
        .map(|(f, c)| (f.name().clone(), c.clone()))
        .collect();
    let mut out = String::from(r#"{"type":"FeatureCollection","features":["#);
    for i in 0..batch.num_rows() {
        if i > 0 {
            out.push(',');
        }
        let geometry = mobility_geo::wkb::from_wkb(g.value(i)).map_err(|e| Error::Shape {
            id: "geojson".into(),
            message: e.to_string(),
        })?;
        let mut p = serde_json::Map::new();
        for (name, c) in &props {
            let v = if c.is_null(i) {
                serde_json::Value::Null
            } else {
                match c.data_type() {
                    DataType::Float64 => serde_json::json!(
                        c.as_primitive::<arrow::datatypes::Float64Type>().value(i)
                    ),
                    DataType::Int64 => {
                        serde_json::json!(c.as_primitive::<arrow::datatypes::Int64Type>().value(i))
                    }
                    DataType::UInt64 => {
                        serde_json::json!(c.as_primitive::<arrow::datatypes::UInt64Type>().value(i))
                    }
                    DataType::Boolean => serde_json::json!(c.as_boolean().value(i)),
                    _ => {
                        let s = arrow::compute::cast(c, &DataType::Utf8)?;
                        serde_json::json!(s.as_string::<i32>().value(i))
                    }
                }
            };
            p.insert(name.clone(), v);
        }
        let _ = write!(
            out,
            r#"{{"type":"Feature","properties":{},"geometry":{}}}"#,
            serde_json::Value::Object(p),
            geometry_json(&geometry)
        );
    }
    out.push_str("]}\n");
    Ok(out)
}

fn ring(ls: &geo::LineString<f64>) -> String {
    let pts: Vec<String> = ls.coords().map(|c| format!("[{},{}]", c.x, c.y)).collect();
    format!("[{}]", pts.join(","))
}

fn polygon(p: &geo::Polygon<f64>) -> String {
    let rings: Vec<String> = std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(ring)
        .collect();
    format!("[{}]", rings.join(","))
}

fn geometry_json(g: &geo::Geometry<f64>) -> String {
    match g {
        geo::Geometry::Point(p) => {
            format!(r#"{{"type":"Point","coordinates":[{},{}]}}"#, p.x(), p.y())
        }
        geo::Geometry::Polygon(p) => {
            format!(r#"{{"type":"Polygon","coordinates":{}}}"#, polygon(p))
        }
        geo::Geometry::MultiPolygon(mp) => {
            let ps: Vec<String> = mp.0.iter().map(polygon).collect();
            format!(
                r#"{{"type":"MultiPolygon","coordinates":[{}]}}"#,
                ps.join(",")
            )
        }
        geo::Geometry::LineString(l) => {
            format!(r#"{{"type":"LineString","coordinates":{}}}"#, ring(l))
        }
        _ => "null".to_string(),
    }
}
