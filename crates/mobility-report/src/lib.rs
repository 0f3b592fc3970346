//! `report.html`: one self-contained page (inline CSS and SVG, no network) with the targets,
//! charts, maps and methods of a run, in Norwegian (bokmål) or English, rendered from the
//! run's output tables and manifest alone: no SQL session, so `mobility report` can render
//! it again from an output folder.
//!
//! The page is `templates/report.html` (askama: compiled in, text HTML-escaped by
//! construction), filled with one section per part of the page: [`targets`], [`travel`] (with
//! [`flows`]), [`emissions`], [`traffic`] and [`methods`]. What the report draws beyond the
//! indicators comes from tables the run writes for it: `traffic_hourly_profile`,
//! `traffic_weekday_profile`, `counting_points` and `emission_factors` (queries/tables/), and
//! the zones of `geo/zones.parquet`.
//!
//! Every chart is a `<figure data-chart="…" data-rows="…">` holding an SVG drawn by [`svg`],
//! `data-rows` being the number of data values handed to it (bars, stacked segments, points
//! of lines, zones with a value, counting points); a chart whose data the run does not have
//! says so instead. A small inline script counts each chart's data marks (`class="mark"`, a
//! polyline counting its points) on load and writes what it found on `<body>`: `data-charts`
//! (how many), `data-empty` (charts without marks), `data-marks` (`id=count,…`) and
//! `data-wrong` (charts whose marks differ from their `data-rows`), which the browser test
//! reads.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use askama::Template;

mod cells;
mod emissions;
mod flows;
mod lang;
mod methods;
mod page;
pub mod svg;
mod targets;
mod traffic;
mod travel;
mod zones;

pub use lang::Lang;
pub use svg::Decimal;

/// The run's tables by name: the indicator tables (`indicators/<id>`) and `zones`.
pub type Tables = HashMap<String, RecordBatch>;

/// What the report says of the run itself, from `manifest.json`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RunFacts {
    /// The version of mobility that ran.
    pub version: String,
    /// The data directory.
    pub data: String,
    /// Rows of each input table.
    pub table_rows: BTreeMap<String, u64>,
    /// The run's wall time, s.
    pub seconds_total: f64,
    /// The language the run wrote report.html in (`parameters.lang`), if it says.
    #[serde(
        default,
        deserialize_with = "lang_of_parameters",
        rename = "parameters"
    )]
    pub lang: Option<Lang>,
}

/// `lang` of the manifest's `parameters`.
fn lang_of_parameters<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Lang>, D::Error> {
    let parameters: serde_json::Value = serde::Deserialize::deserialize(d)?;
    Ok(parameters
        .get("lang")
        .and_then(|l| l.as_str())
        .and_then(Lang::parse))
}

/// Errors of the report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading an output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An output file is not what the run writes.
    #[error("{path}: {message}")]
    Output {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The template failed.
    #[error("report template: {0}")]
    Template(#[from] askama::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The page of a run's tables.
pub fn render(tables: &Tables, facts: &RunFacts, lang: Lang) -> Result<String> {
    let (areas, undrawn) = zones::read(tables);
    let page = page::Page {
        lang: lang.code(),
        title: lang.t("title"),
        no_data: lang.t("no_data"),
        sections: vec![
            targets::section(tables, lang),
            travel::section(tables, &areas, &undrawn, lang),
            emissions::section(tables, &areas, lang),
            traffic::section(tables, &areas, lang),
            methods::section(tables, facts, lang),
        ],
        footer: format!(
            "{} {} · data: {} · {} s",
            lang.t("generated"),
            facts.version,
            facts.data,
            lang.num(facts.seconds_total, 1)
        ),
    };
    let mut html = page.render()?;
    html.push('\n');
    Ok(html)
}

/// The tables and facts of an output folder as `mobility run` wrote it: every
/// `indicators/*.parquet`, `geo/zones.parquet` as `zones`, and `manifest.json`.
pub fn read(out: &Path) -> Result<(Tables, RunFacts)> {
    let manifest = out.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).map_err(|source| Error::Io {
        path: manifest.clone(),
        source,
    })?;
    let facts: RunFacts = serde_json::from_str(&text).map_err(|e| Error::Output {
        path: manifest.clone(),
        message: format!("not the manifest of a run: {e}"),
    })?;
    let mut tables = Tables::new();
    let dir = out.join("indicators");
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?
            .path();
        if path.extension().is_some_and(|e| e == "parquet")
            && let Some(id) = path.file_stem().and_then(|s| s.to_str())
        {
            tables.insert(id.to_string(), read_parquet(&path)?);
        }
    }
    let zones = out.join("geo/zones.parquet");
    if zones.exists() {
        tables.insert("zones".to_string(), read_parquet(&zones)?);
    }
    Ok((tables, facts))
}

/// One Parquet file as one batch.
fn read_parquet(path: &Path) -> Result<RecordBatch> {
    let bad = |message: String| Error::Output {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(format!("not a Parquet file: {e}")))?;
    let schema = builder.schema().clone();
    let reader = builder
        .build()
        .map_err(|e| bad(format!("not a Parquet file: {e}")))?;
    let batches: Vec<RecordBatch> = reader
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(format!("unreadable: {e}")))?;
    arrow::compute::concat_batches(&schema, &batches).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BinaryArray, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn a_zone_whose_geometry_does_not_decode_is_named_under_the_map() {
        let square = geo::Geometry::Polygon(geo::Polygon::new(
            geo::LineString::from(vec![(10.0, 59.0), (10.1, 59.0), (10.1, 59.1), (10.0, 59.0)]),
            vec![],
        ));
        let good = mobility_geo::wkb::to_wkb(&square).unwrap();
        let zones = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("zone_id", DataType::Utf8, false),
                Field::new("name", DataType::Utf8, true),
                Field::new("geometry", DataType::Binary, false),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["3201", "3203"])),
                Arc::new(StringArray::from(vec!["Bærum", "Asker"])),
                Arc::new(BinaryArray::from(vec![good.as_slice(), &[1, 3, 0]])),
            ],
        )
        .unwrap();
        let tables = Tables::from([("zones".to_string(), zones)]);
        let html = render(&tables, &RunFacts::default(), Lang::En).unwrap();
        assert!(html.contains("data-undrawn=\"1\""), "one zone named");
        let note = &html[html.find("data-undrawn").unwrap()..];
        let note = &note[..note.find("</p>").unwrap()];
        assert!(note.contains("3203 (") && !note.contains("3201"), "{note}");
    }

    /// The run's language comes from the manifest's `parameters.lang`; a manifest without it
    /// (older outputs), or with something else there, reads as no language.
    #[test]
    fn the_manifest_gives_the_runs_language_when_it_has_one() {
        let facts = |json: &str| serde_json::from_str::<RunFacts>(json).unwrap();
        let base =
            r#""version": "1", "data": "d", "table_rows": {"trips": 3}, "seconds_total": 1.5"#;
        assert_eq!(facts(&format!("{{{base}}}")).lang, None);
        assert_eq!(
            facts(&format!(r#"{{{base}, "parameters": {{}}}}"#)).lang,
            None
        );
        assert_eq!(
            facts(&format!(r#"{{{base}, "parameters": null}}"#)).lang,
            None
        );
        assert_eq!(
            facts(&format!(r#"{{{base}, "parameters": {{"lang": "fr"}}}}"#)).lang,
            None
        );
        let en = facts(&format!(
            r#"{{{base}, "parameters": {{"lang": "en", "seed": 2018}}}}"#
        ));
        assert_eq!(en.lang, Some(Lang::En));
        assert_eq!(en.table_rows["trips"], 3);
    }

    #[test]
    fn text_is_escaped_by_the_template() {
        let facts = RunFacts {
            version: "1".into(),
            data: "<script>alert(1)</script> & \"x\"".into(),
            ..RunFacts::default()
        };
        let html = render(&Tables::new(), &facts, Lang::En).unwrap();
        assert!(
            !html.contains("<script>alert"),
            "the data path went in as markup"
        );
        let footer = &html[html.find("data: ").unwrap()..];
        let footer = &footer[..footer.find(" · ").unwrap()];
        assert_eq!(
            footer,
            "data: &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;x&#34;"
        );
    }

    #[test]
    fn a_run_without_tables_says_so_under_every_chart() {
        for lang in [Lang::Nb, Lang::En] {
            let html = render(&Tables::new(), &RunFacts::default(), lang).unwrap();
            // The charts of the page without a table to draw from: each says it has no data.
            assert_eq!(
                html.matches("<p class=\"none\">").count(),
                html.matches("<figure data-chart=").count()
            );
            assert_eq!(html.matches("<figure data-chart=").count(), 10);
            assert!(!html.contains(">?<"), "a word without a translation");
        }
    }
}
