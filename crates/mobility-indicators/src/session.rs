//! The DataFusion session over a data directory.

use std::path::Path;

use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use mobility_model::Table;

use crate::{Error, Result};

/// A session with every table present under `data` registered under its SQL name, and the
/// shared views created. Tables that are absent are simply not registered.
pub async fn open(data: &Path) -> Result<(SessionContext, Vec<Table>)> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    let mut present = Vec::new();
    for t in Table::ALL {
        let dir = data.join(t.name());
        let has_parts = std::fs::read_dir(&dir)
            .map(|rd| rd.filter_map(|e| e.ok()).any(|e| e.path().extension().is_some_and(|x| x == "parquet")))
            .unwrap_or(false);
        if !has_parts {
            continue;
        }
        let path = format!("{}/", dir.display());
        ctx.register_parquet(t.name(), &path, ParquetReadOptions::default())
            .await
            .map_err(|source| Error::DataFusion { context: format!("table {}", t.name()), source })?;
        present.push(*t);
    }
    if present.contains(&Table::Persons) && present.contains(&Table::Households) {
        for (name, sql) in crate::catalog::VIEWS {
            ctx.sql(sql)
                .await
                .map_err(|source| Error::DataFusion { context: format!("view {name}"), source })?;
        }
    }
    Ok((ctx, present))
}
