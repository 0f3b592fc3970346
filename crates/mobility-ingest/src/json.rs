//! Helpers for JSON inputs: the line on which each element of an array starts, so that a
//! rejected feature or point can be named by line like a CSV row.

use serde_json::value::RawValue;

/// The 1-based line of `part`, a sub-slice of `text`.
pub fn line_of(text: &str, part: &RawValue) -> u64 {
    let offset = (part.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    1 + text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() as u64
}

/// A JSON value as short text for a reject's `value` field.
pub fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s }
}
