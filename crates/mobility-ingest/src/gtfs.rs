//! Stops from a GTFS feed: `stops.txt` of a zip (or the file itself); extra columns tolerated.

use crate::Result;
use crate::csvtext::CsvText;
use crate::parse::decimal;
use crate::rejects::Rejects;
use crate::source::TextFile;

/// A stop with coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// `stop_id`.
    pub stop_id: String,
    /// `stop_name`.
    pub name: Option<String>,
    /// `stop_lon`.
    pub lon: f64,
    /// `stop_lat`.
    pub lat: f64,
}

/// Parses `stops.txt`; stops without coordinates (GTFS allows them for generic nodes and
/// boarding areas) and out-of-range ones become rejects.
pub fn parse(file: &TextFile) -> Result<(Vec<Stop>, Vec<u64>, u64, Rejects)> {
    let mut csv = CsvText::new(&file.name, &file.text, Some(b','))?;
    let c_id = csv.column("stop_id")?;
    let c_lat = csv.column("stop_lat")?;
    let c_lon = csv.column("stop_lon")?;
    let c_name = csv.find("stop_name");
    let mut rejects = Rejects::new(&file.name);
    let mut out = Vec::new();
    let mut lines = Vec::new();
    let mut read = 0;
    for row in csv.rows() {
        let row = row?;
        read += 1;
        let get = |c: usize| row.fields.get(c).unwrap_or("").trim();
        let id = get(c_id);
        if id.is_empty() {
            rejects.push(row.line, "stop_id", id, "expected a stop id");
            continue;
        }
        let mut coord = [0.0; 2];
        let mut ok = true;
        for (k, (c, name, range)) in [(c_lon, "stop_lon", 180.0), (c_lat, "stop_lat", 90.0)]
            .into_iter()
            .enumerate()
        {
            match decimal(get(c)) {
                Ok(Some(v)) if v.abs() <= range => coord[k] = v,
                Ok(Some(_)) => {
                    rejects.push(
                        row.line,
                        name,
                        get(c),
                        format!("stop {id}: expected a value within ±{range}"),
                    );
                    ok = false;
                    break;
                }
                Ok(None) => {
                    rejects.push(row.line, name, get(c), format!("stop {id}: no coordinates (allowed in GTFS for generic nodes and boarding areas; a stop needs them here)"));
                    ok = false;
                    break;
                }
                Err(e) => {
                    rejects.push(row.line, name, get(c), e);
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            lines.push(row.line);
            out.push(Stop {
                stop_id: id.to_string(),
                name: c_name.map(|c| get(c).to_string()).filter(|s| !s.is_empty()),
                lon: coord[0],
                lat: coord[1],
            });
        }
    }
    Ok((out, lines, read, rejects))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::decode;

    #[test]
    fn reads_stops_with_extra_columns() {
        let text = "stop_id,stop_name,stop_lat,stop_lon,vehicle_type\nNSR:1,\"Oslo, bussterminal\",59.911,10.759,700\nNSR:2,Node,,,\n";
        let (stops, _lines, read, rej) =
            parse(&decode("stops.txt", text.as_bytes()).unwrap()).unwrap();
        assert_eq!(read, 2);
        assert_eq!(
            stops,
            vec![Stop {
                stop_id: "NSR:1".into(),
                name: Some("Oslo, bussterminal".into()),
                lon: 10.759,
                lat: 59.911
            }]
        );
        assert_eq!(rej.rows[0].line, 3);
    }

    #[test]
    fn missing_column_is_named() {
        let err = parse(&decode("stops.txt", b"stop_id,stop_name\n1,a\n").unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("stops.txt, line 1: missing column 'stop_lat'"),
            "{err}"
        );
    }
}
