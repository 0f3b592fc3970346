//! The page: sections of blocks (headings, figures, tables, notes) that
//! `templates/report.html` lays out. Text goes in as text and the template escapes it; the
//! only markup from Rust is the SVG of [`crate::svg`], which escapes its own labels.

use askama::Template;

use crate::lang::Lang;

/// `report.html`.
#[derive(Template)]
#[template(path = "report.html")]
pub(crate) struct Page {
    /// The `lang` attribute.
    pub lang: &'static str,
    pub title: &'static str,
    /// What a figure without data says.
    pub no_data: &'static str,
    pub sections: Vec<Section>,
    /// The last line: who made the page, from which data, in how long.
    pub footer: String,
}

/// A section of the page under its `<h2>`.
pub(crate) struct Section {
    pub heading: &'static str,
    pub blocks: Vec<Block>,
}

impl Section {
    /// An empty section under `heading` (a key of [`Lang::t`]).
    pub fn new(lang: Lang, heading: &str) -> Self {
        Self {
            heading: lang.t(heading),
            blocks: Vec::new(),
        }
    }
}

/// One part of a section.
pub(crate) enum Block {
    /// A sub-heading (`<h3>`).
    Heading(String),
    /// A paragraph.
    Paragraph(String),
    /// A note in small grey type; `undrawn` counts the zones it names as not drawn.
    Note {
        text: String,
        undrawn: Option<usize>,
    },
    Figure(Figure),
    Table(Table),
}

/// A drawn chart: its SVG and the number of data values it draws (see the crate doc).
pub(crate) struct Chart {
    pub svg: String,
    pub rows: usize,
}

impl Chart {
    /// A chart, or none when nothing was drawn.
    pub fn of(svg: String, rows: usize) -> Option<Self> {
        (!svg.is_empty()).then_some(Self { svg, rows })
    }
}

/// A `<figure data-chart="id">` with its caption and chart, or a line saying the run has no
/// data for it.
pub(crate) struct Figure {
    pub id: &'static str,
    pub caption: &'static str,
    pub chart: Option<Chart>,
}

/// A table: an optional class and `data-table` name (what tests find it by), a header row
/// and rows.
#[derive(Default)]
pub(crate) struct Table {
    pub class: Option<&'static str>,
    pub name: Option<&'static str>,
    pub head: Vec<String>,
    pub rows: Vec<Row>,
}

/// A table row, with an optional class (`suppressed`).
#[derive(Default)]
pub(crate) struct Row {
    pub class: Option<&'static str>,
    pub cells: Vec<TableCell>,
}

impl Row {
    /// A row of plain cells.
    pub fn of(cells: impl IntoIterator<Item = String>) -> Self {
        Self {
            class: None,
            cells: cells.into_iter().map(TableCell::text).collect(),
        }
    }
}

/// A table cell: its text, an optional class and an optional small line under it.
#[derive(Default)]
pub(crate) struct TableCell {
    pub text: String,
    pub class: Option<&'static str>,
    pub small: Option<String>,
}

impl TableCell {
    /// A cell of plain text.
    pub fn text(text: String) -> Self {
        Self {
            text,
            ..Self::default()
        }
    }
}

/// Adds a figure to `blocks`.
pub(crate) fn figure(
    blocks: &mut Vec<Block>,
    id: &'static str,
    caption: &str,
    chart: Option<Chart>,
    lang: Lang,
) {
    blocks.push(Block::Figure(Figure {
        id,
        caption: lang.t(caption),
        chart,
    }));
}
