//! Field parsers shared by the readers: Norwegian number formats, missing markers, timestamps.

/// What a field parser found wrong, phrased as the expectation.
pub type FieldError = String;

fn clean(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| *c != ' ' && *c != '\u{a0}' && *c != '\u{202f}')
        .collect()
}

/// Whether a field is a missing value: empty, or `-` as in trafikkdata.no exports.
pub fn is_missing(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || t == "-"
}

/// A whole number; spaces and no-break spaces as thousands separators are allowed.
pub fn int(s: &str) -> Result<Option<i64>, FieldError> {
    if is_missing(s) {
        return Ok(None);
    }
    clean(s)
        .parse::<i64>()
        .map(Some)
        .map_err(|_| "expected a whole number or '-' for missing".to_string())
}

/// A decimal number with `.` or `,` as decimal separator (not both).
pub fn decimal(s: &str) -> Result<Option<f64>, FieldError> {
    if is_missing(s) {
        return Ok(None);
    }
    let c = clean(s);
    if c.contains(',') && c.contains('.') {
        return Err("expected a decimal number with one decimal separator".to_string());
    }
    match c.replace(',', ".").parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => {
            Err("expected a decimal number (decimal comma or point) or '-' for missing".to_string())
        }
    }
}

/// An ISO-8601 timestamp with offset (`2024-05-01T00:00+02:00`, seconds optional) as
/// microseconds since the epoch, UTC.
pub fn instant_micros(s: &str) -> Result<i64, FieldError> {
    let t = s.trim();
    chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M%:z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(t))
        .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%:z"))
        .map(|d| d.timestamp_micros())
        .map_err(|_| {
            "expected an ISO-8601 time with offset such as 2024-05-01T00:00+02:00".to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norwegian_numbers() {
        assert_eq!(int("1\u{a0}234").unwrap(), Some(1234));
        assert_eq!(int("-").unwrap(), None);
        assert_eq!(int(" ").unwrap(), None);
        assert!(int("12,5").is_err());
        assert_eq!(decimal("100,0").unwrap(), Some(100.0));
        assert_eq!(decimal("99.5").unwrap(), Some(99.5));
        assert!(decimal("1.000,5").is_err());
        assert!(decimal("abc").is_err());
    }

    #[test]
    fn instants_become_utc() {
        let a = instant_micros("2024-05-01T00:00+02:00").unwrap();
        let b = instant_micros("2024-04-30T22:00:00Z").unwrap();
        assert_eq!(a, b);
        assert!(instant_micros("2024-05-01 00:00").is_err());
    }
}
