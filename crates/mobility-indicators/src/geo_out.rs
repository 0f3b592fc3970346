//! Zone-level and point-level indicators as GeoParquet 1.1 (with the `geo` metadata) and
//! GeoJSON, so QGIS, GeoPandas and DuckDB open them as they are: `<out>/geo/<id>_home_zone.*`
//! for every indicator with a `home_zone` breakdown (its rows with the zone's geometry),
//! `<out>/geo/<id>_desire_lines.*` for the origin–destination indicators (a line from the
//! origin zone's centroid to the destination's per flow of breakdown `all`, with its estimate
//! and CI; flows within a zone and to or from `outside` have no line), and
//! `<out>/geo/traffic_points_adt.*` (each counting point's ÅDT per year), and
//! `<out>/geo/zones.*` (the zones: id, name, area, and `geometry_error` where the area does not
//! decode, whose geometry is then NULL and who have no `home_zone` feature or desire line;
//! the report's maps read them).

use std::collections::HashMap;
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

/// The run's zones as `geo/zones.*` has them: zone_id, name, geometry (WKB), and
/// geometry_error: why a geometry does not decode, whose geometry is then NULL (the report
/// names such zones under its maps; the run does not fail on them).
pub fn zones_layer(batches: &[RecordBatch]) -> Result<Option<RecordBatch>> {
    let Some(first) = batches.first() else {
        return Ok(None);
    };
    let b = arrow::compute::concat_batches(&first.schema(), batches)?;
    let id = arrow::compute::cast(&zone_column(&b, "zone_id")?, &DataType::Utf8)?;
    let name = arrow::compute::cast(&zone_column(&b, "name")?, &DataType::Utf8)?;
    let g = arrow::compute::cast(&zone_column(&b, "geometry")?, &DataType::Binary)?;
    let g = g.as_binary::<i32>();
    // Each zone's geometry, or NULL and why.
    let (geometry, errors): (Vec<Option<&[u8]>>, Vec<Option<String>>) = (0..b.num_rows())
        .map(|i| {
            if g.is_null(i) {
                return (None, Some("no geometry (NULL)".to_string()));
            }
            match mobility_geo::wkb::from_wkb(g.value(i)) {
                Ok(_) => (Some(g.value(i)), None),
                Err(e) => (None, Some(e.to_string())),
            }
        })
        .unzip();
    let geometry = BinaryArray::from(geometry);
    Ok(Some(RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("zone_id", DataType::Utf8, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("geometry", DataType::Binary, true),
            Field::new("geometry_error", DataType::Utf8, true),
        ])),
        vec![
            id,
            name,
            Arc::new(geometry),
            Arc::new(StringArray::from(errors)),
        ],
    )?))
}

/// Column `name` of the run's zones.
fn zone_column(b: &RecordBatch, name: &str) -> Result<ArrayRef> {
    b.column_by_name(name).cloned().ok_or_else(|| Error::Shape {
        id: "zones".into(),
        message: format!("no column {name}"),
    })
}

/// Writes the geo outputs into `dir`; returns the files written.
pub async fn write(
    ctx: &SessionContext,
    outputs: &HashMap<String, RecordBatch>,
    dir: &Path,
) -> Result<Vec<String>> {
    let mut written = Vec::new();
    let mut geom: HashMap<String, Vec<u8>> = HashMap::new();
    if let Some(b) = outputs.get("zones") {
        let id = arrow::compute::cast(&zone_column(b, "zone_id")?, &DataType::Utf8)?;
        let g = arrow::compute::cast(&zone_column(b, "geometry")?, &DataType::Binary)?;
        let (id, g) = (id.as_string::<i32>(), g.as_binary::<i32>());
        for i in (0..b.num_rows()).filter(|&i| g.is_valid(i)) {
            geom.insert(id.value(i).to_string(), g.value(i).to_vec());
        }
        // The zones themselves: the report's maps read them back from here.
        written.extend(write_both(dir, "zones", b)?);
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

/// The batch as a GeoJSON FeatureCollection (RFC 7946): its geometry (any type, decoded from
/// WKB) and its other columns as properties. A value JSON cannot hold (NaN, ±∞) is `null`.
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
    let mut features = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        // A NULL geometry (a zone whose WKB does not decode) is a feature without one.
        let geometry = match g.is_valid(i) {
            true => Some(
                mobility_geo::wkb::from_wkb(g.value(i)).map_err(|e| Error::Shape {
                    id: "geojson".into(),
                    message: e.to_string(),
                })?,
            ),
            false => None,
        };
        let mut p = geojson::JsonObject::new();
        for (name, c) in &props {
            p.insert(name.clone(), property(c, i)?);
        }
        features.push(geojson::Feature {
            geometry: geometry.as_ref().map(geojson::Geometry::from),
            properties: Some(p),
            ..Default::default()
        });
    }
    let collection = geojson::FeatureCollection {
        features,
        ..Default::default()
    };
    Ok(format!("{collection}\n"))
}

/// Row `i` of column `c` as a JSON value: numbers as numbers, booleans, the rest as text.
fn property(c: &ArrayRef, i: usize) -> Result<geojson::JsonValue> {
    use geojson::JsonValue;
    if c.is_null(i) {
        return Ok(JsonValue::Null);
    }
    Ok(match c.data_type() {
        DataType::Float64 => {
            let v = c.as_primitive::<arrow::datatypes::Float64Type>().value(i);
            serde_json::Number::from_f64(v).map_or(JsonValue::Null, JsonValue::Number)
        }
        DataType::Int64 => c
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(i)
            .into(),
        DataType::UInt64 => c
            .as_primitive::<arrow::datatypes::UInt64Type>()
            .value(i)
            .into(),
        DataType::Boolean => c.as_boolean().value(i).into(),
        _ => {
            let s = arrow::compute::cast(c, &DataType::Utf8)?;
            s.as_string::<i32>().value(i).into()
        }
    })
}

#[cfg(test)]
mod tests {
    use geo::{Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

    use super::*;

    /// A zone without a geometry and one whose WKB does not decode: `geo/zones.*` is written
    /// with their geometry NULL and each one's reason on its row, their GeoJSON features have
    /// no geometry, and the report names both under its maps. The run does not fail on them.
    #[test]
    fn zones_that_do_not_decode_or_lack_a_geometry_are_kept_without_it_and_named() {
        let square = Geometry::Polygon(Polygon::new(
            LineString::from(vec![(10.0, 59.0), (10.1, 59.0), (10.1, 59.1), (10.0, 59.0)]),
            vec![],
        ));
        let good = mobility_geo::wkb::to_wkb(&square).unwrap();
        let zones = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("zone_id", DataType::Utf8, false),
                Field::new("name", DataType::Utf8, true),
                Field::new("geometry", DataType::Binary, true),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["0301", "3201", "3203"])),
                Arc::new(StringArray::from(vec!["Oslo", "Bærum", "Asker"])),
                Arc::new(BinaryArray::from(vec![
                    None,
                    Some(good.as_slice()),
                    Some(&[1, 3, 0][..]),
                ])),
            ],
        )
        .unwrap();
        let layer = zones_layer(&[zones]).unwrap().unwrap();
        let g = layer.column_by_name("geometry").unwrap();
        assert_eq!(
            (g.is_valid(0), g.is_valid(1), g.is_valid(2)),
            (false, true, false)
        );
        // Each reason on its own zone's row.
        let why = layer.column_by_name("geometry_error").unwrap();
        let why = why.as_string::<i32>();
        assert_eq!(why.value(0), "no geometry (NULL)");
        assert!(why.is_null(1) && why.value(2).contains("WKB"), "{why:?}");

        let dir = tempfile::tempdir().unwrap();
        let outputs = HashMap::from([("zones".to_string(), layer.clone())]);
        let ctx = SessionContext::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let written = rt.block_on(write(&ctx, &outputs, dir.path())).unwrap();
        assert!(
            written.contains(&"geo/zones.geojson".to_string()),
            "{written:?}"
        );
        let gj = std::fs::read_to_string(dir.path().join("zones.geojson")).unwrap();
        assert_eq!(gj.matches("\"geometry\":null").count(), 2, "{gj}");

        let tables = HashMap::from([("zones".to_string(), layer)]);
        let facts = mobility_report::RunFacts::default();
        let html = mobility_report::render(&tables, &facts, mobility_report::Lang::En).unwrap();
        let note = &html[html.find("data-undrawn=\"2\"").expect("two zones named")..];
        let note = &note[..note.find("</p>").unwrap()];
        assert!(
            note.contains("0301 (no geometry (NULL))")
                && note.contains("3203 (")
                && !note.contains("3201"),
            "{note}"
        );
    }

    /// One feature of each geometry type the outputs can hold, written as GeoJSON and read
    /// back by shapely (an independent reader): each comes back as the same geometry.
    #[test]
    fn geojson_of_every_geometry_type_reads_back_in_shapely() {
        let ring = |c: &[(f64, f64)]| LineString::from(c.to_vec());
        let square = Polygon::new(
            ring(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)]),
            vec![ring(&[(1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 1.0)])],
        );
        let shapes: Vec<(Geometry<f64>, &str)> = vec![
            (Point::new(10.5, 59.9).into(), "POINT (10.5 59.9)"),
            (
                ring(&[(0.0, 0.0), (1.0, 1.5)]).into(),
                "LINESTRING (0 0, 1 1.5)",
            ),
            (
                square.clone().into(),
                "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
            ),
            (
                MultiPoint::from(vec![(0.0, 0.0), (1.0, 2.0)]).into(),
                "MULTIPOINT ((0 0), (1 2))",
            ),
            (
                MultiLineString::new(vec![
                    ring(&[(0.0, 0.0), (1.0, 1.0)]),
                    ring(&[(2.0, 2.0), (3.0, 1.0)]),
                ])
                .into(),
                "MULTILINESTRING ((0 0, 1 1), (2 2, 3 1))",
            ),
            (
                MultiPolygon::new(vec![square]).into(),
                "MULTIPOLYGON (((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1)))",
            ),
        ];
        let wkb: Vec<Vec<u8>> = shapes
            .iter()
            .map(|(g, _)| mobility_geo::wkb::to_wkb(g).unwrap())
            .collect();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Utf8, false),
                Field::new("estimate", DataType::Float64, true),
                Field::new("geometry", DataType::Binary, false),
            ])),
            vec![
                Arc::new(StringArray::from_iter_values(
                    (0..shapes.len()).map(|i| i.to_string()),
                )),
                // NaN has no JSON number: null.
                Arc::new(arrow::array::Float64Array::from_iter_values(
                    (0..shapes.len()).map(|i| if i == 0 { f64::NAN } else { i as f64 }),
                )),
                Arc::new(BinaryArray::from_iter_values(wkb.iter().map(Vec::as_slice))),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_both(dir.path(), "shapes", &batch).unwrap();
        let path = dir.path().join("shapes.geojson");
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let features = json["features"].as_array().unwrap();
        assert_eq!(features.len(), shapes.len());
        assert!(features[0]["properties"]["estimate"].is_null());
        assert_eq!(features[2]["properties"]["estimate"], 2.0);

        let script = "import json, sys\nfrom shapely.geometry import shape\n\
                      fc = json.load(open(sys.argv[1]))\n\
                      print('\\n'.join(shape(f['geometry']).wkt for f in fc['features']))";
        let out = std::process::Command::new("python3")
            .args(["-c", script, path.to_str().unwrap()])
            .output();
        let ok = out.as_ref().is_ok_and(|o| o.status.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must have python3 with shapely (.ci/run installs it): {out:?}"
            );
            eprintln!("SKIP: python3 with shapely is not installed");
            return;
        }
        let wkt = String::from_utf8(out.unwrap().stdout).unwrap();
        let want: Vec<&str> = shapes.iter().map(|(_, w)| *w).collect();
        assert_eq!(wkt.lines().collect::<Vec<_>>(), want);
    }
}
