//! Zones from GeoJSON: Polygon and MultiPolygon features, in EPSG:4326 or EPSG:25833 (from the
//! file's `crs` member or `--crs`), stored as EPSG:4326 WKB.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use mobility_geo::{Crs, Zone};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::json::{Lines, short};
use crate::rejects::Rejects;
use crate::source::TextFile;
use crate::{Error, Result};

/// How to read zone features.
#[derive(Debug, Clone)]
pub struct ZoneOptions {
    /// The property that holds the zone id.
    pub id_field: String,
    /// The property that holds the name, if any.
    pub name_field: Option<String>,
    /// The `kind` given to every zone of the file.
    pub kind: String,
    /// The CRS, overriding the file's `crs` member.
    pub crs: Option<Crs>,
    /// Repair invalid polygons (even–odd rule) instead of rejecting them; each repair is
    /// listed in the rejects file as a note.
    pub repair: bool,
}

#[derive(Deserialize)]
struct Collection<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    crs: Option<Value>,
    #[serde(borrow)]
    features: Vec<&'a RawValue>,
}

/// Zones read from one file.
#[derive(Debug)]
pub struct Parsed {
    /// The zones.
    pub zones: Vec<Zone>,
    /// Their names.
    pub names: Vec<Option<String>>,
    /// The line where each zone's feature starts.
    pub lines: Vec<u64>,
    /// Features read.
    pub read: u64,
    /// Features refused.
    pub rejects: Rejects,
}

/// Parses a FeatureCollection into zones; bad features become rejects.
pub fn parse(file: &TextFile, opts: &ZoneOptions) -> Result<Parsed> {
    let fc: Collection<'_> = serde_json::from_str(&file.text).map_err(|e| {
        Error::format(
            &file.name,
            e.line() as u64,
            format!("expected a GeoJSON FeatureCollection: {e}"),
        )
    })?;
    if fc.kind != "FeatureCollection" {
        return Err(Error::format(
            &file.name,
            1,
            format!("type is '{}'; expected 'FeatureCollection'", fc.kind),
        ));
    }
    let file_crs = fc
        .crs
        .as_ref()
        .and_then(|c| c.pointer("/properties/name"))
        .and_then(Value::as_str)
        .map(|n| {
            n.parse::<Crs>()
                .map_err(|e| Error::format(&file.name, 1, format!("crs member: {e}")))
        })
        .transpose()?;
    let crs = opts.crs.or(file_crs).unwrap_or(Crs::Epsg4326);
    let lines = Lines::new(&file.text);
    let mut rejects = Rejects::new(&file.name);
    let mut zones = Vec::new();
    let mut lines_of = Vec::new();
    let mut names = Vec::new();
    for (i, raw) in fc.features.iter().enumerate() {
        let line = lines.line_of(raw);
        let col = |p: &str| format!("features[{i}].{p}");
        let f: Value = match crate::json::element(raw) {
            Ok(v) => v,
            Err(why) => {
                let shown: String = raw.get().chars().take(80).collect();
                rejects.push(line, &format!("features[{i}]"), &shown, why);
                continue;
            }
        };
        let id = match f.pointer(&format!("/properties/{}", opts.id_field)) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            other => {
                let shown = other.map(short).unwrap_or_else(|| "missing".into());
                rejects.push(
                    line,
                    &col(&format!("properties.{}", opts.id_field)),
                    &shown,
                    "expected a non-empty zone id (string or number)",
                );
                continue;
            }
        };
        let name = opts
            .name_field
            .as_ref()
            .and_then(|n| f.pointer(&format!("/properties/{n}")))
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        let checked = geometry(f.get("geometry").unwrap_or(&Value::Null), crs).and_then(|mp| {
            let Some(why) = mobility_geo::valid::invalidity(&mp.clone().into()) else {
                return Ok(mobility_geo::valid::normalize(&mp));
            };
            if !opts.repair {
                return Err(format!(
                    "invalid polygon: {why}; fix it, or give --repair to store its even–odd repair"
                ));
            }
            let fixed = mobility_geo::valid::repair(&mp);
            if fixed.0.is_empty() {
                return Err(format!("invalid polygon: {why}; its repair is empty"));
            }
            let g = f.get("geometry").map(short).unwrap_or_default();
            rejects.note(
                line,
                &col("geometry"),
                &g,
                format!(
                    "zone {id}: repaired (kept): invalid polygon: {why}; stored as the even–odd repair, {} polygon(s)",
                    fixed.0.len()
                ),
            );
            Ok(fixed)
        });
        match checked {
            Ok(mp) => {
                lines_of.push(line);
                zones.push(Zone {
                    id,
                    kind: opts.kind.clone(),
                    geometry: mp,
                });
                names.push(name);
            }
            Err(reason) => {
                let g = f
                    .get("geometry")
                    .map(short)
                    .unwrap_or_else(|| "missing".into());
                rejects.push(line, &col("geometry"), &g, format!("zone {id}: {reason}"));
            }
        }
    }
    Ok(Parsed {
        zones,
        names,
        lines: lines_of,
        read: fc.features.len() as u64,
        rejects,
    })
}

fn geometry(g: &Value, crs: Crs) -> Result<MultiPolygon<f64>, String> {
    let kind = g.get("type").and_then(Value::as_str).unwrap_or("null");
    let coords = g
        .get("coordinates")
        .ok_or("expected a Polygon or MultiPolygon geometry")?;
    let polys: Vec<&Value> = match kind {
        "Polygon" => vec![coords],
        "MultiPolygon" => coords
            .as_array()
            .ok_or("MultiPolygon coordinates must be an array")?
            .iter()
            .collect(),
        other => {
            return Err(format!(
                "geometry type {other}; expected Polygon or MultiPolygon"
            ));
        }
    };
    let mut out = Vec::with_capacity(polys.len());
    for p in polys {
        let rings = p
            .as_array()
            .ok_or("polygon coordinates must be an array of rings")?;
        let mut rs = Vec::with_capacity(rings.len());
        for r in rings {
            rs.push(ring(r, crs)?);
        }
        if rs.is_empty() {
            return Err("polygon without rings".into());
        }
        let exterior = rs.remove(0);
        out.push(Polygon::new(exterior, rs));
    }
    Ok(MultiPolygon(out))
}

fn ring(r: &Value, crs: Crs) -> Result<LineString<f64>, String> {
    let pts = r.as_array().ok_or("ring must be an array of positions")?;
    let mut cs = Vec::with_capacity(pts.len());
    for p in pts {
        let (x, y) = match p.as_array().map(|a| a.as_slice()) {
            Some([x, y, ..]) => (x.as_f64(), y.as_f64()),
            _ => (None, None),
        };
        let (Some(x), Some(y)) = (x, y) else {
            return Err(format!("position {p} is not [x, y]"));
        };
        let (lon, lat) = crs.to_lon_lat(x, y);
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(format!(
                "position [{x}, {y}] is outside lon/lat range in {crs}; projected data needs --crs EPSG:25833"
            ));
        }
        cs.push(Coord { x: lon, y: lat });
    }
    if cs.len() < 4 {
        return Err(format!(
            "ring with {} positions; a closed ring needs at least 4",
            cs.len()
        ));
    }
    if cs.first() != cs.last() {
        return Err("ring is not closed (first and last positions differ)".into());
    }
    Ok(LineString::new(cs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::decode;

    fn opts() -> ZoneOptions {
        ZoneOptions {
            id_field: "id".into(),
            name_field: Some("name".into()),
            kind: "kommune".into(),
            crs: None,
            repair: false,
        }
    }

    #[test]
    fn reads_utm33_from_the_crs_member() {
        let text = r#"{"type": "FeatureCollection",
"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25833"}},
"features": [{"type": "Feature", "properties": {"id": 3201, "name": "Bærum"},
 "geometry": {"type": "Polygon", "coordinates": [[[250000, 6600000], [261000, 6600000], [261000, 6650000], [250000, 6600000]]]}}]}"#;
        let Parsed {
            zones,
            names,
            read,
            rejects: rej,
            ..
        } = parse(&decode("z.geojson", text.as_bytes()).unwrap(), &opts()).unwrap();
        assert_eq!((read, zones.len(), rej.rows.len()), (1, 1, 0));
        assert_eq!(zones[0].id, "3201");
        assert_eq!(names[0].as_deref(), Some("Bærum"));
        let c = zones[0].geometry.0[0].exterior().0[0];
        assert!(
            (c.x - 10.586_985_676_1).abs() < 1e-9 && (c.y - 59.463_827_616_1).abs() < 1e-9,
            "{c:?}"
        );
    }

    #[test]
    fn rejects_bad_features_by_line() {
        let text = "{\"type\": \"FeatureCollection\", \"features\": [\n{\"type\": \"Feature\", \"properties\": {\"id\": \"a\"}, \"geometry\": {\"type\": \"Point\", \"coordinates\": [1, 2]}},\n{\"type\": \"Feature\", \"properties\": {}, \"geometry\": null},\n{\"type\": \"Feature\", \"properties\": {\"id\": \"c\"}, \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[261000, 6650000], [262000, 6650000], [262000, 6651000], [261000, 6650000]]]}}]}";
        let Parsed {
            zones,
            read,
            rejects: rej,
            ..
        } = parse(&decode("z.geojson", text.as_bytes()).unwrap(), &opts()).unwrap();
        assert_eq!((read, zones.len()), (3, 0));
        let r: Vec<String> = rej.rows.iter().map(|r| r.to_string()).collect();
        assert!(
            r[0].contains("line 2") && r[0].contains("geometry type Point"),
            "{}",
            r[0]
        );
        assert!(
            r[1].contains("line 3") && r[1].contains("properties.id"),
            "{}",
            r[1]
        );
        assert!(
            r[2].contains("line 4") && r[2].contains("needs --crs EPSG:25833"),
            "{}",
            r[2]
        );
    }

    /// Found by `mobility-fuzz`: a coordinate beyond a double's range used to panic.
    #[test]
    fn a_number_out_of_range_is_a_reject_not_a_panic() {
        let text = "{\"type\": \"FeatureCollection\", \"features\": [\n{\"type\": \"Feature\", \"properties\": {\"id\": \"a\"}, \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[1e999, 59], [11, 59], [11, 60], [1e999, 59]]]}}]}";
        let p = parse(&decode("z.geojson", text.as_bytes()).unwrap(), &opts()).unwrap();
        assert_eq!((p.zones.len(), p.read, p.rejects.rows.len()), (0, 1, 1));
        assert_eq!(p.rejects.rows[0].line, 2);
        assert!(
            p.rejects.rows[0].reason.starts_with("not readable JSON"),
            "{}",
            p.rejects.rows[0].reason
        );
    }

    #[test]
    fn truncated_json_and_other_types_stop_with_file_and_line() {
        let err = parse(
            &decode(
                "z.geojson",
                b"{\"type\": \"FeatureCollection\",\n\"features\": [{\"type\": \"Fea",
            )
            .unwrap(),
            &opts(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "z.geojson, line 2: expected a GeoJSON FeatureCollection: EOF while parsing"
            ),
            "{err}"
        );
        let err = parse(
            &decode("z.geojson", br#"{"type": "Feature", "features": []}"#).unwrap(),
            &opts(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "z.geojson, line 1: type is 'Feature'; expected 'FeatureCollection'"
        );
    }
}
