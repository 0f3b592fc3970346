//! `mobility sql`: SQL over a data directory, from `-c`, `-f` or an interactive shell, and
//! `mobility functions`: the project's functions with their documentation.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;

/// Output format of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header.
    Csv,
    /// A JSON array of objects.
    Json,
    /// Parquet (needs --output).
    Parquet,
}

/// Where results go.
pub struct Output {
    pub format: Format,
    pub file: Option<PathBuf>,
}

/// Splits a script into statements with DataFusion's parser, so `;` inside strings is safe and
/// a syntax error names its line and column.
/// The statements of a script, parsed once and planned as parsed (printing a statement and
/// parsing it again loses the quotes of `COPY … TO 'file'`).
fn statements(sql: &str) -> anyhow::Result<Vec<datafusion::sql::parser::Statement>> {
    let parsed = DFParser::parse_sql(sql).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(parsed.into_iter().collect())
}

/// A DataFusion error as one line (its hints, such as the valid field names, joined in).
fn one_line(e: datafusion::error::DataFusionError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.strip_backtrace().trim().replace('\n', " "))
}

async fn execute(
    ctx: &SessionContext,
    statement: &datafusion::sql::parser::Statement,
) -> anyhow::Result<Vec<RecordBatch>> {
    let plan = ctx
        .state()
        .statement_to_plan(statement.clone())
        .await
        .map_err(one_line)?;
    let df = ctx.execute_logical_plan(plan).await.map_err(one_line)?;
    df.collect().await.map_err(one_line)
}

fn write_results(batches: &[RecordBatch], out: &Output, w: &mut dyn Write) -> anyhow::Result<()> {
    match out.format {
        Format::Table => {
            if batches.iter().all(|b| b.num_rows() == 0)
                && batches.first().is_none_or(|b| b.num_columns() == 0)
            {
                return Ok(());
            }
            writeln!(
                w,
                "{}",
                arrow::util::pretty::pretty_format_batches(batches)?
            )?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            writeln!(w, "{rows} row{}", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut cw = arrow::csv::WriterBuilder::new().with_header(true).build(w);
            for b in batches {
                cw.write(b)?;
            }
        }
        Format::Json => {
            let mut jw = arrow::json::ArrayWriter::new(w);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            jw.write_batches(&refs)?;
            jw.finish()?;
            drop(jw);
        }
        Format::Parquet => bail!("--format parquet needs --output <file>"),
    }
    Ok(())
}

fn write_parquet(batches: &[RecordBatch], path: &Path) -> anyhow::Result<()> {
    let Some(first) = batches.first() else {
        bail!("the query returned no batches to write")
    };
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).with_context(|| tmp.display().to_string())?;
    let mut pw = parquet::arrow::ArrowWriter::try_new(file, first.schema(), None)?;
    for b in batches {
        pw.write(b)?;
    }
    pw.close()?;
    std::fs::rename(&tmp, path).with_context(|| path.display().to_string())?;
    Ok(())
}

/// Runs a script (one or more statements) and writes the results of each.
pub async fn run_script(ctx: &SessionContext, sql: &str, out: &Output) -> anyhow::Result<()> {
    let stmts = statements(sql)?;
    if stmts.is_empty() {
        bail!("no SQL statement given");
    }
    let mut results = Vec::new();
    for s in &stmts {
        results.push(execute(ctx, s).await?);
    }
    match (&out.file, out.format) {
        (Some(path), Format::Parquet) => {
            write_parquet(results.last().expect("one statement at least"), path)?
        }
        (Some(path), _) => {
            let tmp = path.with_extension("tmp");
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&tmp).with_context(|| tmp.display().to_string())?,
            );
            for r in &results {
                write_results(r, out, &mut f)?;
            }
            f.flush()?;
            drop(f);
            std::fs::rename(&tmp, path).with_context(|| path.display().to_string())?;
        }
        (None, _) => {
            let mut stdout = std::io::stdout().lock();
            for r in &results {
                write_results(r, out, &mut stdout)?;
            }
        }
    }
    Ok(())
}

const HELP: &str = "Statements end with ';' and may span lines.\n  \\d            list tables\n  \\d <table>    describe a table\n  \\f            list the project's functions\n  \\q            quit\n";

/// Handles a backslash command of the shell; returns false to quit.
async fn command(ctx: &SessionContext, line: &str, out: &Output) -> anyhow::Result<bool> {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("\\q"), _) => return Ok(false),
        (Some("\\d"), None) => run_script(ctx, "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name", out).await?,
        (Some("\\d"), Some(t)) => run_script(ctx, &format!("DESCRIBE {t}"), out).await?,
        (Some("\\f"), _) => print_functions(true)?,
        _ => print!("{HELP}"),
    }
    Ok(true)
}

/// The interactive shell: line editing, history in ~/.mobility_history, multi-line statements.
pub async fn shell(ctx: &SessionContext, out: &Output) -> anyhow::Result<()> {
    let mut rl = rustyline::DefaultEditor::new()?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".mobility_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    println!("mobility sql: \\? for help, \\q to quit");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "mobility> "
        } else {
            "       -> "
        };
        let line = match rl.readline(prompt) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = rl.add_history_entry(trimmed);
            match command(ctx, trimmed, out).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    continue;
                }
            }
        }
        if trimmed.is_empty() {
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if trimmed.ends_with(';') {
            let _ = rl.add_history_entry(buffer.trim());
            if let Err(e) = run_script(ctx, &buffer, out).await {
                eprintln!("error: {e:#}");
            }
            buffer.clear();
        }
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    Ok(())
}

/// `mobility functions`: every function of the registry with signature, description,
/// arguments and an example.
pub fn print_functions(short: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let scalars = mobility_sql::functions::all(&Default::default());
    let aggregates = mobility_sql::functions::aggregates();
    let mut fs: Vec<(&str, Option<&datafusion::logical_expr::Documentation>)> = scalars
        .iter()
        .map(|f| (f.name(), f.documentation()))
        .chain(aggregates.iter().map(|f| (f.name(), f.documentation())))
        .collect();
    fs.sort_by(|a, b| a.0.cmp(b.0));
    for (_, doc) in &fs {
        let Some(doc) = doc else {
            continue;
        };
        if short {
            writeln!(
                out,
                "{:<45} {}",
                doc.syntax_example,
                doc.description.split(". ").next().unwrap_or("")
            )?;
            continue;
        }
        writeln!(out, "{}\n    {}", doc.syntax_example, doc.description)?;
        for (name, what) in doc.arguments.iter().flatten() {
            writeln!(out, "    {name}: {what}")?;
        }
        if let Some(ex) = &doc.sql_example {
            writeln!(out, "    example: {ex}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
