//! Helpers for JSON inputs: the line on which each element of an array starts, so that a
//! rejected feature or point can be named by line like a CSV row.

use serde_json::value::RawValue;

/// Byte offsets of the line starts of a text, for line look-ups in O(log n).
pub struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        Self { text, starts }
    }

    /// The 1-based line of `part`, a sub-slice of the indexed text.
    pub fn line_of(&self, part: &RawValue) -> u64 {
        let offset = (part.get().as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize);
        self.starts.partition_point(|s| *s <= offset) as u64
    }
}

/// One element of an array read as raw JSON, as a value. Raw JSON is only checked for its
/// syntax, so a number beyond the range of a double (`1e400`) is found here: the element is
/// then a reject (this reason), not the whole file an error.
pub fn element(raw: &RawValue) -> Result<serde_json::Value, String> {
    serde_json::from_str(raw.get()).map_err(|e| format!("not readable JSON: {e}"))
}

/// A JSON value as short text for a reject's `value` field.
pub fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_array_elements() {
        let text = "[\n1,\n  {\"a\": 2},\n3]";
        let v: Vec<&RawValue> = serde_json::from_str(text).unwrap();
        let lines = Lines::new(text);
        assert_eq!(
            v.iter().map(|r| lines.line_of(r)).collect::<Vec<_>>(),
            [2, 3, 4]
        );
    }
}
