//! The indicator catalog: `queries/<id>.sql` files with a header of `-- key: value` lines.

/// The built-in indicators: (id, SQL).
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "trips_per_person_day",
        include_str!("../../../queries/trips_per_person_day.sql"),
    ),
    (
        "mode_share_trips",
        include_str!("../../../queries/mode_share_trips.sql"),
    ),
];

/// How a query's output becomes an indicator table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Per-stratum sums for the survey ratio estimator.
    Ratio,
    /// A finished table.
    Table,
}

/// One indicator.
#[derive(Debug, Clone)]
pub struct Indicator {
    /// The id, also the output file name.
    pub id: String,
    /// A title for people.
    pub title: String,
    /// How the output is post-processed.
    pub kind: Kind,
    /// Unit of `estimate`.
    pub unit: String,
    /// Tables the query reads; the indicator is skipped, with a note, when one is missing.
    pub needs: Vec<String>,
    /// The SQL.
    pub sql: String,
}

impl Indicator {
    /// Parses an indicator's SQL and header.
    pub fn parse(id: &str, sql: &str) -> Self {
        let header = |key: &str| {
            sql.lines()
                .take_while(|l| l.starts_with("--"))
                .find_map(|l| {
                    l.trim_start_matches("--")
                        .trim()
                        .strip_prefix(&format!("{key}:"))
                        .map(|v| v.trim().to_string())
                })
        };
        Self {
            id: id.to_string(),
            title: header("title").unwrap_or_else(|| id.to_string()),
            kind: match header("kind").as_deref() {
                Some("ratio") => Kind::Ratio,
                _ => Kind::Table,
            },
            unit: header("unit").unwrap_or_default(),
            needs: header("needs")
                .map(|n| {
                    n.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            sql: sql.to_string(),
        }
    }
}

/// The built-in catalog.
pub fn built_in() -> Vec<Indicator> {
    BUILT_IN
        .iter()
        .map(|(id, sql)| Indicator::parse(id, sql))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_has_a_header() {
        for i in built_in() {
            assert_ne!(i.title, i.id, "{} has no title", i.id);
            assert!(!i.unit.is_empty(), "{} has no unit", i.id);
            assert!(!i.needs.is_empty(), "{} needs no table", i.id);
        }
    }
}
