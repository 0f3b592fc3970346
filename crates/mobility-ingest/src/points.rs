//! Registration points from the trafikkdata GraphQL answer to `trafficRegistrationPoints`
//! (`{"data": {"trafficRegistrationPoints": [{"id", "name", "location": {"coordinates":
//! {"latLon": {"lat", "lon"}}, "roadReference": {"shortForm"}}}]}}`). Fields beyond id and
//! coordinates are optional.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::json::{Lines, short};
use crate::rejects::Rejects;
use crate::source::TextFile;
use crate::{Error, Result};

/// A registration point with coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// `id`.
    pub trp_id: String,
    /// `name`.
    pub name: Option<String>,
    /// `location.roadReference.shortForm`, when asked for.
    pub road_reference: Option<String>,
    /// Longitude, EPSG:4326.
    pub lon: f64,
    /// Latitude, EPSG:4326.
    pub lat: f64,
}

#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    data: Data<'a>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, rename = "trafficRegistrationPoints")]
    points: Vec<&'a RawValue>,
}

/// Parses the GraphQL answer; points without valid coordinates become rejects.
pub fn parse(file: &TextFile) -> Result<(Vec<Point>, u64, Rejects)> {
    let answer: Answer<'_> = serde_json::from_str(&file.text).map_err(|e| {
        Error::format(
            &file.name,
            e.line() as u64,
            format!("expected the trafikkdata GraphQL answer {{\"data\": {{\"trafficRegistrationPoints\": [...]}}}}: {e}"),
        )
    })?;
    let lines = Lines::new(&file.text);
    let mut rejects = Rejects::new(&file.name);
    let mut out = Vec::with_capacity(answer.data.points.len());
    for raw in &answer.data.points {
        let line = lines.line_of(raw);
        let v: Value = match crate::json::element(raw) {
            Ok(v) => v,
            Err(why) => {
                let shown: String = raw.get().chars().take(80).collect();
                rejects.push(line, "trafficRegistrationPoints[]", &shown, why);
                continue;
            }
        };
        let Some(id) = v
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
        else {
            rejects.push(
                line,
                "id",
                &short(&v),
                "expected a point with a non-empty string id",
            );
            continue;
        };
        let ll = v.pointer("/location/coordinates/latLon");
        let lat = ll.and_then(|l| l.get("lat")).and_then(Value::as_f64);
        let lon = ll.and_then(|l| l.get("lon")).and_then(Value::as_f64);
        let (Some(lat), Some(lon)) = (lat, lon) else {
            let shown = ll.map(short).unwrap_or_else(|| "null".into());
            rejects.push(
                line,
                "location.coordinates.latLon",
                &shown,
                format!("point {id}: expected numeric lat and lon"),
            );
            continue;
        };
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            rejects.push(
                line,
                "location.coordinates.latLon",
                &format!("{lat}, {lon}"),
                format!("point {id}: expected lat in [-90, 90] and lon in [-180, 180]"),
            );
            continue;
        }
        out.push(Point {
            trp_id: id.trim().to_string(),
            name: v.get("name").and_then(Value::as_str).map(str::to_string),
            road_reference: v
                .pointer("/location/roadReference/shortForm")
                .and_then(Value::as_str)
                .map(str::to_string),
            lon,
            lat,
        });
    }
    Ok((out, answer.data.points.len() as u64, rejects))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::decode;

    #[test]
    fn reads_points_and_rejects_those_without_coordinates() {
        let text = r#"{"data": {"trafficRegistrationPoints": [
  {"id": "52742V2282262", "name": "Ørbekk", "location": {"coordinates": {"latLon": {"lat": 60.41426, "lon": 11.241171}}}},
  {"id": "X", "name": "nowhere", "location": {"coordinates": null}}
]}}"#;
        let (pts, read, rej) = parse(&decode("p.json", text.as_bytes()).unwrap()).unwrap();
        assert_eq!(read, 2);
        assert_eq!(pts.len(), 1);
        assert_eq!(pts[0].lon, 11.241171);
        assert_eq!(rej.rows.len(), 1);
        assert_eq!(rej.rows[0].line, 3);
        assert!(rej.rows[0].reason.contains("point X"));
    }

    /// Found by `mobility-fuzz points`: a number beyond a double's range is valid JSON syntax
    /// and used to panic; the point is now a reject naming its line.
    #[test]
    fn a_number_out_of_range_is_a_reject_not_a_panic() {
        let text = "{\"data\": {\"trafficRegistrationPoints\": [\n{\"id\": \"A\", \"location\": {\"coordinates\": {\"latLon\": {\"lat\": 1e400, \"lon\": 10.0}}}}\n]}}";
        let (pts, read, rej) = parse(&decode("p.json", text.as_bytes()).unwrap()).unwrap();
        assert_eq!((pts.len(), read, rej.rows.len()), (0, 1, 1));
        assert_eq!(rej.rows[0].line, 2);
        assert!(
            rej.rows[0]
                .reason
                .starts_with("not readable JSON: number out of range"),
            "{}",
            rej.rows[0].reason
        );
    }

    #[test]
    fn wrong_shape_is_a_format_error() {
        let err = parse(&decode("p.json", br#"{"data": {"points": []}}"#).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.json, line 1: expected the trafikkdata GraphQL answer"),
            "{err}"
        );
    }
}
