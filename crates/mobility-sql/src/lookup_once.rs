//! A look-up filtered on and selected is evaluated once per row.
//!
//! A planner writes
//!
//! ```sql
//! SELECT zone_of(lon, lat) AS zone, count(*) FROM points
//! WHERE zone_of(lon, lat) IS NOT NULL GROUP BY 1
//! ```
//!
//! and DataFusion plans the look-up twice: in the `FilterExec` and again in the aggregate (or
//! projection) above it. The subquery form `… FROM (SELECT zone_of(…) AS zone …) WHERE zone IS
//! NOT NULL` becomes the same plan once the filter is pushed below the projection. For an
//! expensive call (a point-in-polygon or nearest-stop search per row) that doubles the query.
//!
//! [`LookupOnceRule`] finds an aggregate or projection directly over a filter where both use the
//! same call of a look-up function, computes the call once in a projection under the filter
//! (the input's columns plus one column per call), and lets the filter and the node above read
//! that column. Output names and types do not change. `SET mobility.lookup_once = false` keeps
//! DataFusion's plan (the reference of the tests).

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, CaseExpr, Column};
use datafusion::physical_expr::split_conjunction;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, PhysicalGroupBy};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

/// The functions worth computing once: each call searches an index.
const LOOKUPS: &[&str] = &["zone_of", "nearest_stop_m"];

/// The physical optimizer rule; see the module documentation.
#[derive(Debug, Default)]
pub struct LookupOnceRule;

impl PhysicalOptimizerRule for LookupOnceRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let on = config
            .extensions
            .get::<crate::options::MobilityOptions>()
            .is_none_or(|o| o.lookup_once);
        if !on {
            return Ok(plan);
        }
        plan.transform_up(rewrite).map(|t| t.data)
    }

    fn name(&self) -> &str {
        "mobility_lookup_once"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The look-up calls the filter evaluates on every row, each once: those of its first
/// conjunct, not under `AND`, `OR` or `CASE`. A call DataFusion evaluates only on some rows (a
/// later conjunct, after an earlier one has thrown rows out; a `CASE` branch) stays where it
/// is: computed under the filter it would run on every row, and a guarded call might fail.
fn lookup_calls(predicate: &Arc<dyn PhysicalExpr>) -> Vec<Arc<dyn PhysicalExpr>> {
    let Some(first) = split_conjunction(predicate).first().map(|e| Arc::clone(*e)) else {
        return Vec::new();
    };
    let mut out: Vec<Arc<dyn PhysicalExpr>> = Vec::new();
    let _ = first.apply(|e| {
        let guard = e.downcast_ref::<CaseExpr>().is_some()
            || e.downcast_ref::<BinaryExpr>()
                .is_some_and(|b| matches!(b.op(), Operator::And | Operator::Or));
        if guard {
            return Ok(TreeNodeRecursion::Jump);
        }
        if e.downcast_ref::<ScalarFunctionExpr>()
            .is_some_and(|f| LOOKUPS.contains(&f.name()))
            && !out.iter().any(|o| o.as_ref() == e.as_ref())
        {
            out.push(Arc::clone(e));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// `expr` with each of `calls` replaced by its column (`first + k`).
fn read_columns(
    expr: &Arc<dyn PhysicalExpr>,
    calls: &[Arc<dyn PhysicalExpr>],
    first: usize,
) -> Result<Arc<dyn PhysicalExpr>> {
    Arc::clone(expr)
        .transform_down(|e| {
            Ok(match calls.iter().position(|c| c.as_ref() == e.as_ref()) {
                Some(k) => Transformed::yes(
                    Arc::new(Column::new(&column_name(k), first + k)) as Arc<dyn PhysicalExpr>
                ),
                None => Transformed::no(e),
            })
        })
        .map(|t| t.data)
}

fn column_name(k: usize) -> String {
    format!("__mobility_lookup_{k}")
}

/// The expressions of `node` evaluated on its input's rows, when it is a node this rule
/// rewrites: a projection, or an aggregate's grouping in a mode that reads raw rows.
fn parent_exprs(node: &Arc<dyn ExecutionPlan>) -> Option<Vec<Arc<dyn PhysicalExpr>>> {
    if let Some(p) = node.downcast_ref::<ProjectionExec>() {
        return Some(p.expr().iter().map(|e| Arc::clone(&e.expr)).collect());
    }
    let a = node.downcast_ref::<AggregateExec>()?;
    let raw = matches!(
        a.mode(),
        AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
    );
    (raw && !a.group_expr().has_grouping_set()).then(|| {
        a.group_expr()
            .expr()
            .iter()
            .map(|(e, _)| Arc::clone(e))
            .collect()
    })
}

fn rewrite(node: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    let Some(child) = node.children().first().map(|c| Arc::clone(*c)) else {
        return Ok(Transformed::no(node));
    };
    let Some(filter) = child.downcast_ref::<FilterExec>() else {
        return Ok(Transformed::no(node));
    };
    let Some(above) = parent_exprs(&node) else {
        return Ok(Transformed::no(node));
    };
    // A filter with its own projection or row limit (LIMIT pushed into it) is left alone.
    if filter.projection().is_some() || filter.fetch().is_some() {
        return Ok(Transformed::no(node));
    }
    let calls: Vec<Arc<dyn PhysicalExpr>> = lookup_calls(filter.predicate())
        .into_iter()
        .filter(|c| {
            above
                .iter()
                .any(|e| e.exists(|x| Ok(x.as_ref() == c.as_ref())).unwrap_or(false))
        })
        .collect();
    if calls.is_empty() {
        return Ok(Transformed::no(node));
    }

    // Under the filter: the input's columns, then the calls.
    let input = filter.input();
    let first = input.schema().fields().len();
    let mut exprs: Vec<ProjectionExpr> = input
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| ProjectionExpr {
            expr: Arc::new(Column::new(f.name(), i)),
            alias: f.name().clone(),
        })
        .collect();
    exprs.extend(calls.iter().enumerate().map(|(k, c)| ProjectionExpr {
        expr: Arc::clone(c),
        alias: column_name(k),
    }));
    let computed: Arc<dyn ExecutionPlan> =
        Arc::new(ProjectionExec::try_new(exprs, Arc::clone(input))?);
    let new_filter: Arc<dyn ExecutionPlan> = Arc::new(
        FilterExec::try_new(read_columns(filter.predicate(), &calls, first)?, computed)?
            .with_default_selectivity(filter.default_selectivity())?
            .with_batch_size(filter.batch_size())?,
    );

    // Above it: the same node, reading the columns.
    let new_node: Arc<dyn ExecutionPlan> = if let Some(p) = node.downcast_ref::<ProjectionExec>() {
        let exprs = p
            .expr()
            .iter()
            .map(|e| {
                Ok(ProjectionExpr {
                    expr: read_columns(&e.expr, &calls, first)?,
                    alias: e.alias.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Arc::new(ProjectionExec::try_new(exprs, new_filter)?)
    } else {
        let a = node
            .downcast_ref::<AggregateExec>()
            .expect("parent_exprs accepts projections and aggregates");
        let g = a.group_expr();
        let expr = g
            .expr()
            .iter()
            .map(|(e, name)| Ok((read_columns(e, &calls, first)?, name.clone())))
            .collect::<Result<Vec<_>>>()?;
        let group_by = PhysicalGroupBy::new(
            expr,
            g.null_expr().to_vec(),
            g.groups().to_vec(),
            g.has_grouping_set(),
        );
        let schema = new_filter.schema();
        Arc::new(
            AggregateExec::try_new(
                *a.mode(),
                group_by,
                a.aggr_expr().to_vec(),
                a.filter_expr().to_vec(),
                new_filter,
                schema,
            )?
            .with_limit_options(a.limit_options()),
        )
    };
    Ok(Transformed::yes(new_node))
}
