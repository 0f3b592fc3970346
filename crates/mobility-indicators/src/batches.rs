//! Running a query of the run, and reading its columns: one place for what the run, the
//! traffic indices, the targets, the report and the geo outputs all need.

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::{Error, Result};

/// The column readers, shared with the report through the model crate.
pub(crate) use mobility_model::columns::{f64s, i64s, utf8, year_month};

/// The batches of `sql`; an error names `what`.
pub(crate) async fn collect(
    ctx: &SessionContext,
    what: &str,
    sql: &str,
) -> Result<Vec<RecordBatch>> {
    let run = async { ctx.sql(sql).await?.collect().await };
    within_timeout(ctx, what, run)
        .await?
        .map_err(|source| Error::DataFusion {
            context: what.to_string(),
            source,
        })
}

/// `mobility.query_timeout` of the session: how long a query may go without a result.
pub(crate) fn query_timeout(ctx: &SessionContext) -> Option<std::time::Duration> {
    // Read under the session's lock: `ctx.state()` would copy the whole session per query.
    let s = ctx
        .state_ref()
        .read()
        .config()
        .options()
        .extensions
        .get::<mobility_sql::options::MobilityOptions>()
        .map_or(0, |o| o.query_timeout);
    (s > 0).then(|| std::time::Duration::from_secs(s))
}

/// `fut` within the session's query timeout, or an error naming the query and the limit.
pub(crate) async fn within_timeout<T>(
    ctx: &SessionContext,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T> {
    match query_timeout(ctx) {
        None => Ok(fut.await),
        Some(limit) => tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| timed_out(what, limit)),
    }
}

/// The error of a query without a result for `limit`.
pub(crate) fn timed_out(what: &str, limit: std::time::Duration) -> Error {
    Error::DataFusion {
        context: what.to_string(),
        source: datafusion::error::DataFusionError::Execution(format!(
            "no result within {} s (query timeout, mobility.query_timeout / --query-timeout): on a cluster, a job can stall after an executor is lost; see the scheduler's log",
            limit.as_secs()
        )),
    }
}

/// [`collect`] when the session has every table (or view) of `needs`, else no batches: a
/// chart or layer whose data the directory does not have is left out, while a query that
/// fails on data that is there is an error.
pub(crate) async fn collect_if(
    ctx: &SessionContext,
    needs: &[&str],
    what: &str,
    sql: &str,
) -> Result<Vec<RecordBatch>> {
    if needs.iter().all(|t| ctx.table_exist(*t).unwrap_or(false)) {
        collect(ctx, what, sql).await
    } else {
        Ok(Vec::new())
    }
}

/// Like the above, for columns a query of ours must have: a missing one is an error.
pub(crate) fn need<T>(col: Option<T>, what: &str, name: &str) -> Result<T> {
    col.ok_or_else(|| Error::Shape {
        id: what.to_string(),
        message: format!("column {name} missing or of the wrong type"),
    })
}
