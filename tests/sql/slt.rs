//! Runs every `tests/sql/*.slt` file (sqllogictest) against a session over the shipped sample,
//! with every function of the registry.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};

struct Db {
    ctx: SessionContext,
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let batches: Vec<RecordBatch> = self.ctx.sql(sql).await?.collect().await?;
        let opts = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        let mut types = Vec::new();
        for b in &batches {
            if types.is_empty() {
                types = b
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| {
                        if f.data_type().is_floating() {
                            DefaultColumnType::FloatingPoint
                        } else if f.data_type().is_integer() {
                            DefaultColumnType::Integer
                        } else {
                            DefaultColumnType::Text
                        }
                    })
                    .collect();
            }
            let fmts: Vec<ArrayFormatter> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
                .collect::<Result<_, _>>()?;
            for i in 0..b.num_rows() {
                rows.push(fmts.iter().map(|f| f.value(i).to_string()).collect());
            }
        }
        if types.is_empty()
            && rows.is_empty()
            && !sql.trim_start().to_ascii_lowercase().starts_with("select")
        {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = root.join("data/sample");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("tests/sql"))
        .expect("tests/sql")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    // No .slt file means a broken checkout, not a pass: libtest-mimic would run zero trials
    // and report success.
    assert!(
        !files.is_empty(),
        "no .slt files in {}",
        root.join("tests/sql").display()
    );
    let trials = files
        .into_iter()
        .map(|f| {
            let data = data.clone();
            let name = f
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            libtest_mimic::Trial::test(name, move || {
                let rt = tokio::runtime::Runtime::new().expect("runtime");
                let mut runner = sqllogictest::Runner::new(move || {
                    let data = data.clone();
                    async move {
                        Ok(Db {
                            ctx: mobility_sql::open(&data).await?.ctx,
                        })
                    }
                });
                rt.block_on(runner.run_file_async(&f))
                    .map_err(|e| libtest_mimic::Failed::from(e.to_string()))
            })
        })
        .collect();
    libtest_mimic::run(&libtest_mimic::Arguments::from_args(), trials).exit();
}
