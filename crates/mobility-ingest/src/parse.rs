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
    // The common case, plain digits, without the copy `clean` makes.
    if !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(s.bytes().fold(0, |v, b| v * 10 + i64::from(b - b'0'))));
    }
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
    // The common case, digits with at most one separator, parsed from a copy on the stack.
    let b = s.as_bytes();
    if !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_digit() || *c == b',' || *c == b'.')
        && b.iter().filter(|c| !c.is_ascii_digit()).count() <= 1
    {
        let mut buf = [0u8; 32];
        for (d, c) in buf.iter_mut().zip(b) {
            *d = if *c == b',' { b'.' } else { *c };
        }
        let t = std::str::from_utf8(&buf[..b.len()]).expect("ASCII");
        if let Ok(v) = t.parse::<f64>() {
            return Ok(Some(v));
        }
    }
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
    if let Some(v) = instant_fast(s.as_bytes()) {
        return Ok(v);
    }
    let t = s.trim();
    chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M%:z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(t))
        .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%:z"))
        .map(|d| d.timestamp_micros())
        .map_err(|_| {
            "expected an ISO-8601 time with offset such as 2024-05-01T00:00+02:00".to_string()
        })
}

/// `YYYY-MM-DDTHH:MM±HH:MM` (the export's form) read digit by digit; `None` for anything
/// else, which the general parser then reads or refuses.
fn instant_fast(b: &[u8]) -> Option<i64> {
    if b.len() != 22
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || !matches!(b[16], b'+' | b'-')
        || b[19] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |v, c| {
            c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, oh, om) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..22)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > days_in[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || oh > 23
        || om > 59
    {
        return None;
    }
    // Days since 1970-01-01 (H. Hinnant's days_from_civil).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let offset = (oh * 60 + om) * if b[16] == b'-' { -1 } else { 1 };
    Some(((days * 24 + h) * 60 + mi - offset) * 60_000_000)
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

    #[test]
    fn the_fast_reading_of_instants_agrees_with_chrono() {
        let chrono_micros = |t: &str| {
            chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M%:z")
                .map(|d| d.timestamp_micros())
                .ok()
        };
        for t in [
            "2024-02-29T23:00+01:00",
            "2023-10-29T02:00+02:00",
            "2023-10-29T02:00+01:00",
            "1969-12-31T23:59-00:30",
            "2000-03-01T00:00+14:00",
            "2100-02-28T12:34+05:45",
        ] {
            assert_eq!(instant_fast(t.as_bytes()), chrono_micros(t), "{t}");
        }
        for bad in [
            "2023-02-29T00:00+01:00",
            "2024-13-01T00:00+01:00",
            "2024-05-01T24:00+01:00",
        ] {
            assert_eq!(instant_fast(bad.as_bytes()), None, "{bad}");
            assert!(instant_micros(bad).is_err(), "{bad}");
        }
        assert_eq!(int("12345").unwrap(), Some(12345));
        assert_eq!(decimal("0,5").unwrap(), Some(0.5));
        assert_eq!(decimal("12.").unwrap(), Some(12.0));
        assert!(decimal("1,2,3").is_err());
    }
}
