//! The indexed spatial join.
//!
//! DataFusion plans `a JOIN b ON ST_Contains(b.geometry, ST_Point(a.lon, a.lat))` as a nested
//! loop: every point against every polygon. [`SpatialJoinRule`] replaces such an inner
//! [`NestedLoopJoinExec`] whose whole filter is one of `ST_Contains(x, y)`, `ST_Within(y, x)` or
//! `ST_Intersects(x, y)`, with `x` from one side and `y` from the other, by a
//! [`SpatialJoinExec`]:
//!
//! - the *build* side (the side of the containing geometry `x`; for `ST_Intersects` the side
//!   that is not an `ST_Point`, else the nested loop's left) is collected once, its geometries
//!   decoded, polygons prepared ([`PreparedPolygon`]: edges in slabs) and their bounding boxes
//!   put in a grid of cells ([`BoxGrid`], for point probes) and an R-tree (for others);
//! - each batch of the *probe* side is matched in parallel (rayon): the grid or R-tree gives the
//!   candidates whose box holds the probe geometry's box, and an exact test decides. For
//!   `ST_Point(lon, lat)` the coordinates are read straight from their columns, with no WKB.
//!
//! The exact tests are those of the functions: `ST_Contains` wants the point in the polygon's
//! interior (a point on an edge is not contained), `ST_Intersects` counts the boundary.
//! Every pair is returned, not only the smallest zone as `zone_of` does. `SET
//! mobility.spatial_join = false` keeps the nested loop (the brute-force reference of the tests).

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Float64Type, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, JoinSide, JoinType, Result, ScalarValue, internal_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::{
    EquivalenceProperties, Partitioning, PhysicalExpr, ScalarFunctionExpr,
};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::joins::NestedLoopJoinExec;
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties, collect,
};
use futures::{StreamExt, TryStreamExt};
use geo::{BoundingRect, Contains, Coord, Geometry, Intersects, MultiPolygon};
use mobility_geo::grid::BoxGrid;
use mobility_geo::prepared::{Position, PreparedPolygon};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::udf::decode;

use crate::options::MobilityOptions;

/// What a pair must satisfy, with `build` the geometry of the indexed side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predicate {
    /// `build` contains `probe` (OGC: no point outside, one in the interior).
    Contains,
    /// `build` and `probe` share a point, boundaries included.
    Intersects,
}

/// The probe side's geometry: an `ST_Point(x, y)` read as two numbers, or any WKB geometry.
#[derive(Debug, Clone)]
enum ProbeGeom {
    Point(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>),
    Wkb(Arc<dyn PhysicalExpr>),
}

/// DataFusion's physical optimizer rules with [`SpatialJoinRule`] right after the join
/// selection: before the projections below the join are pushed into the scans, so that the
/// `ST_Point(lon, lat)` DataFusion computes for a join filter can still be read as lon and lat.
/// Last comes [`crate::lookup_once::LookupOnceRule`], once the plan's shape is settled.
pub fn physical_optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules;
    let at = rules
        .iter()
        .position(|r| r.name() == "join_selection")
        .map_or(rules.len(), |i| i + 1);
    rules.insert(at, Arc::new(SpatialJoinRule));
    rules.push(Arc::new(crate::lookup_once::LookupOnceRule));
    rules
}

/// The physical optimizer rule that turns a spatial nested-loop join into [`SpatialJoinExec`].
#[derive(Debug, Default)]
pub struct SpatialJoinRule;

impl PhysicalOptimizerRule for SpatialJoinRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !config
            .extensions
            .get::<MobilityOptions>()
            .is_none_or(|o| o.spatial_join)
        {
            return Ok(plan);
        }
        plan.transform_up(|p| {
            let Some(nlj) = p.downcast_ref::<NestedLoopJoinExec>() else {
                return Ok(Transformed::no(p));
            };
            Ok(match SpatialJoinExec::try_from_nested_loop(nlj)? {
                Some(s) => Transformed::yes(Arc::new(s) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(p),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "mobility_spatial_join"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// An inner join on a spatial predicate through a grid (points) or an R-tree (other
/// geometries) over the build side's bounding boxes.
#[derive(Debug)]
pub struct SpatialJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    build_side: JoinSide,
    /// The build side's geometry, over the build child's schema.
    build_geom: Arc<dyn PhysicalExpr>,
    /// The probe side's geometry, over the probe child's schema.
    probe_geom: ProbeGeom,
    /// The probe side's columns as the nested loop saw them.
    probe_side: ProbeSide,
    predicate: Predicate,
    /// The SQL function the filter called, for messages.
    function: String,
    /// Columns of (left ++ right) to output, as the nested loop had them.
    projection: Option<Vec<usize>>,
    cache: Arc<PlanProperties>,
    index: Arc<tokio::sync::OnceCell<Arc<BuildIndex>>>,
    metrics: ExecutionPlanMetricsSet,
}

impl SpatialJoinExec {
    /// The spatial join equivalent to `nlj`, when its filter is a spatial predicate alone.
    pub fn try_from_nested_loop(nlj: &NestedLoopJoinExec) -> Result<Option<Self>> {
        if *nlj.join_type() != JoinType::Inner {
            return Ok(None);
        }
        let Some(filter) = nlj.filter() else {
            return Ok(None);
        };
        let Some(f) = as_function(filter.expression()) else {
            return Ok(None);
        };
        let args = f.args();
        if args.len() != 2 {
            return Ok(None);
        }
        let side = |e: &Arc<dyn PhysicalExpr>| side_of(filter, e);
        let is_point =
            |e: &Arc<dyn PhysicalExpr>| as_function(e).is_some_and(|g| g.name() == "st_point");
        let (build, probe, predicate) = match f.name() {
            "st_contains" => (0, 1, Predicate::Contains),
            "st_within" => (1, 0, Predicate::Contains),
            "st_intersects" => {
                let left_first = side(&args[0]) == Some(JoinSide::Left);
                if is_point(&args[0]) && !is_point(&args[1]) || !is_point(&args[1]) && !left_first {
                    (1, 0, Predicate::Intersects)
                } else {
                    (0, 1, Predicate::Intersects)
                }
            }
            _ => return Ok(None),
        };
        let (Some(build_side), Some(probe_side)) = (side(&args[build]), side(&args[probe])) else {
            return Ok(None);
        };
        if build_side == probe_side {
            return Ok(None);
        }
        let build_geom = to_child(filter, &args[build])?;
        let (mut left, mut right) = (nlj.left().clone(), nlj.right().clone());
        let probe_child = if build_side == JoinSide::Left {
            &mut right
        } else {
            &mut left
        };
        let side = ProbeSide {
            schema: probe_child.schema(),
            exprs: None,
        };
        let (probe_geom, side) = match as_function(&args[probe]) {
            Some(p) if p.name() == "st_point" && p.args().len() == 2 => (
                ProbeGeom::Point(
                    to_child(filter, &p.args()[0])?,
                    to_child(filter, &p.args()[1])?,
                ),
                side,
            ),
            _ => {
                let g = to_child(filter, &args[probe])?;
                match absorb_point_projection(probe_child, &g) {
                    Some((x, y, input, exprs)) => {
                        *probe_child = input;
                        (
                            ProbeGeom::Point(x, y),
                            ProbeSide {
                                exprs: Some(exprs),
                                ..side
                            },
                        )
                    }
                    None => (ProbeGeom::Wkb(g), side),
                }
            }
        };
        let projection = nlj.projection().as_ref().map(|p| p.to_vec());
        Ok(Some(Self::new(
            left,
            right,
            build_side,
            build_geom,
            probe_geom,
            side,
            predicate,
            f.name().to_string(),
            projection,
        )))
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        build_side: JoinSide,
        build_geom: Arc<dyn PhysicalExpr>,
        probe_geom: ProbeGeom,
        probe_side: ProbeSide,
        predicate: Predicate,
        function: String,
        projection: Option<Vec<usize>>,
    ) -> Self {
        let (l, r) = if build_side == JoinSide::Left {
            (left.schema(), Arc::clone(&probe_side.schema))
        } else {
            (Arc::clone(&probe_side.schema), right.schema())
        };
        let fields: Vec<_> = l
            .fields()
            .iter()
            .chain(r.fields().iter())
            .cloned()
            .collect();
        let fields = match &projection {
            Some(p) => p.iter().map(|&i| fields[i].clone()).collect(),
            None => fields,
        };
        let schema: SchemaRef = Arc::new(arrow::datatypes::Schema::new(fields));
        let probe = if build_side == JoinSide::Left {
            &right
        } else {
            &left
        };
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(probe.output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            left,
            right,
            build_side,
            build_geom,
            probe_geom,
            probe_side,
            predicate,
            function,
            projection,
            cache,
            index: Arc::new(tokio::sync::OnceCell::new()),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    fn build_child(&self) -> &Arc<dyn ExecutionPlan> {
        if self.build_side == JoinSide::Left {
            &self.left
        } else {
            &self.right
        }
    }

    fn probe_child(&self) -> &Arc<dyn ExecutionPlan> {
        if self.build_side == JoinSide::Left {
            &self.right
        } else {
            &self.left
        }
    }
}

/// The probe side's columns: the probe child's own, or a projection of them that the join
/// absorbed (DataFusion computes a join filter's `ST_Point(lon, lat)` in a projection below the
/// join; the spatial join reads lon and lat instead and never builds the point's WKB).
#[derive(Debug, Clone)]
struct ProbeSide {
    schema: SchemaRef,
    exprs: Option<Vec<Arc<dyn PhysicalExpr>>>,
}

/// When `g` is a column that the projection `child` computes as `ST_Point(x, y)`: x and y over
/// the projection's input, that input, and the projection's expressions with the point's
/// replaced by a NULL of its type (only the filter reads it).
#[allow(clippy::type_complexity)]
fn absorb_point_projection(
    child: &Arc<dyn ExecutionPlan>,
    g: &Arc<dyn PhysicalExpr>,
) -> Option<(
    Arc<dyn PhysicalExpr>,
    Arc<dyn PhysicalExpr>,
    Arc<dyn ExecutionPlan>,
    Vec<Arc<dyn PhysicalExpr>>,
)> {
    let c = g.downcast_ref::<Column>()?;
    let proj = child.downcast_ref::<ProjectionExec>()?;
    let point = as_function(&proj.expr().get(c.index())?.expr)?;
    if point.name() != "st_point" || point.args().len() != 2 {
        return None;
    }
    let (x, y) = (Arc::clone(&point.args()[0]), Arc::clone(&point.args()[1]));
    let null = ScalarValue::try_from(child.schema().field(c.index()).data_type()).ok()?;
    let exprs = proj
        .expr()
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if i == c.index() {
                Arc::new(Literal::new(null.clone())) as Arc<dyn PhysicalExpr>
            } else {
                Arc::clone(&e.expr)
            }
        })
        .collect();
    Some((x, y, Arc::clone(proj.input()), exprs))
}

fn as_function(e: &Arc<dyn PhysicalExpr>) -> Option<&ScalarFunctionExpr> {
    e.downcast_ref::<ScalarFunctionExpr>()
}

/// The one side of the join all of `e`'s columns come from.
fn side_of(filter: &JoinFilter, e: &Arc<dyn PhysicalExpr>) -> Option<JoinSide> {
    let mut sides = collect_columns(e)
        .into_iter()
        .map(|c| filter.column_indices()[c.index()].side);
    let first = sides.next()?;
    (first != JoinSide::None && sides.all(|s| s == first)).then_some(first)
}

/// `e` (over the filter's intermediate schema) over its side's own schema.
fn to_child(filter: &JoinFilter, e: &Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
    Arc::clone(e)
        .transform(|x| {
            Ok(match x.downcast_ref::<Column>() {
                Some(c) => Transformed::yes(Arc::new(Column::new(
                    c.name(),
                    filter.column_indices()[c.index()].index,
                )) as Arc<dyn PhysicalExpr>),
                None => Transformed::no(x),
            })
        })
        .map(|t| t.data)
}

impl DisplayAs for SpatialJoinExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let side = if self.build_side == JoinSide::Left {
            "left"
        } else {
            "right"
        };
        write!(
            f,
            "SpatialJoinExec: {}, build={side} {}, probe=",
            self.function, self.build_geom
        )?;
        match &self.probe_geom {
            ProbeGeom::Point(x, y) => write!(f, "point({x}, {y})")?,
            ProbeGeom::Wkb(g) => write!(f, "{g}")?,
        }
        if let Some(p) = &self.projection {
            write!(f, ", projection={p:?}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for SpatialJoinExec {
    fn name(&self) -> &str {
        "SpatialJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    /// The indexed side whole in one partition, the probe side as it comes. Every partition of
    /// the probe side reads the whole build side; saying so lets a distributed planner
    /// (Ballista) make the build side a stage of its own instead of handing each task only its
    /// slice of it (which counted a fifth of 5 M points on a cluster, docs/cluster.md).
    fn required_input_distribution(&self) -> Vec<datafusion::physical_plan::Distribution> {
        use datafusion::physical_plan::Distribution;
        match self.build_side {
            JoinSide::Left => vec![
                Distribution::SinglePartition,
                Distribution::UnspecifiedDistribution,
            ],
            _ => vec![
                Distribution::UnspecifiedDistribution,
                Distribution::SinglePartition,
            ],
        }
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let mut exprs = vec![&self.build_geom];
        match &self.probe_geom {
            ProbeGeom::Point(x, y) => exprs.extend([x, y]),
            ProbeGeom::Wkb(g) => exprs.push(g),
        }
        for e in exprs {
            if f(e)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [left, right]: [Arc<dyn ExecutionPlan>; 2] = match children.try_into() {
            Ok(c) => c,
            Err(_) => return internal_err!("SpatialJoinExec has two children"),
        };
        Ok(Arc::new(Self::new(
            left,
            right,
            self.build_side,
            self.build_geom.clone(),
            self.probe_geom.clone(),
            self.probe_side.clone(),
            self.predicate,
            self.function.clone(),
            self.projection.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let probe_stream = self
            .probe_child()
            .execute(partition, Arc::clone(&context))?;
        let cell = Arc::clone(&self.index);
        let build = Arc::clone(self.build_child());
        let build_geom = Arc::clone(&self.build_geom);
        let function = self.function.clone();
        let probe = Arc::new(Prober {
            geom: self.probe_geom.clone(),
            predicate: self.predicate,
            build_left: self.build_side == JoinSide::Left,
            side: self.probe_side.clone(),
            projection: self.projection.clone(),
            schema: self.schema(),
            function: self.function.clone(),
        });
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let joined = async move {
            let index = cell
                .get_or_try_init(|| async move {
                    let schema = build.schema();
                    let batches = collect(build, context).await?;
                    BuildIndex::new(&schema, &batches, &build_geom, &function).map(Arc::new)
                })
                .await?
                .clone();
            Ok::<_, DataFusionError>(probe_stream.map(move |batch| {
                let timer = metrics.elapsed_compute().timer();
                let out = probe.join(&index, &batch?);
                timer.done();
                if let Ok(b) = &out {
                    metrics.record_output(b.num_rows());
                }
                out
            }))
        };
        let stream = futures::stream::once(joined).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        )))
    }

    /// Takes over a parent projection of plain columns, so that columns nobody reads (a zone's
    /// geometry, say) are never copied for every matched row.
    fn try_swapping_with_projection(
        &self,
        projection: &ProjectionExec,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let schema = self.schema();
        let mut picked = Vec::with_capacity(projection.expr().len());
        for e in projection.expr() {
            let Some(c) = e.expr.downcast_ref::<Column>() else {
                return Ok(None);
            };
            if schema.field(c.index()).name() != &e.alias {
                return Ok(None);
            }
            picked.push(match &self.projection {
                Some(p) => p[c.index()],
                None => c.index(),
            });
        }
        Ok(Some(Arc::new(Self::new(
            Arc::clone(&self.left),
            Arc::clone(&self.right),
            self.build_side,
            Arc::clone(&self.build_geom),
            self.probe_geom.clone(),
            self.probe_side.clone(),
            self.predicate,
            self.function.clone(),
            Some(picked),
        ))))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// The build side: its rows, geometries, a grid of their bounding boxes for point probes and
/// an R-tree for other probes.
#[derive(Debug)]
struct BuildIndex {
    batch: RecordBatch,
    geoms: Vec<Option<Geometry<f64>>>,
    /// The prepared form of each polygonal geometry.
    prepared: Vec<Option<PreparedPolygon>>,
    /// Candidates for point probes, in row order.
    grid: BoxGrid,
    tree: RTree<Entry>,
}

impl BuildIndex {
    fn new(
        schema: &SchemaRef,
        batches: &[RecordBatch],
        geom: &Arc<dyn PhysicalExpr>,
        function: &str,
    ) -> Result<Self> {
        let batch = arrow::compute::concat_batches(schema, batches)?;
        let wkb = evaluate(geom, &batch, &DataType::Binary)?;
        let wkb = wkb.as_binary::<i32>();
        let mut geoms = Vec::with_capacity(batch.num_rows());
        for i in 0..wkb.len() {
            geoms.push(if wkb.is_null(i) {
                None
            } else {
                Some(decode(function, 1, wkb.value(i))?)
            });
        }
        let prepared = geoms
            .par_iter()
            .map(|g| match g {
                Some(Geometry::Polygon(p)) => {
                    Some(PreparedPolygon::new(&MultiPolygon(vec![p.clone()])))
                }
                Some(Geometry::MultiPolygon(mp)) => Some(PreparedPolygon::new(mp)),
                _ => None,
            })
            .collect();
        let entries = geoms
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let r = g.as_ref()?.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i as u32,
                ))
            })
            .collect();
        let boxes = geoms
            .iter()
            .map(|g| g.as_ref().and_then(|g| g.bounding_rect()))
            .collect();
        let rows: Vec<u32> = (0..geoms.len() as u32).collect();
        Ok(Self {
            batch,
            grid: BoxGrid::new(boxes, &rows),
            geoms,
            prepared,
            tree: RTree::bulk_load(entries),
        })
    }

    /// The build rows whose geometry satisfies `predicate` with the point `c`, in row order.
    fn match_point(&self, c: Coord<f64>, predicate: Predicate, out: &mut Vec<u32>) {
        let start = out.len();
        for row in self.grid.candidates(c.x, c.y) {
            let i = row as usize;
            let hit = match (&self.prepared[i], predicate) {
                (Some(p), Predicate::Contains) => p.position(c) == Position::Inside,
                (Some(p), Predicate::Intersects) => p.position(c) != Position::Outside,
                (None, pr) => exact(self.geoms[i].as_ref(), &Geometry::Point(c.into()), pr),
            };
            if hit {
                out.push(row);
            }
        }
        debug_assert!(out[start..].is_sorted(), "the grid lists rows in order");
    }

    /// [`BuildIndex::match_point`] for any geometry.
    fn match_geometry(&self, g: &Geometry<f64>, predicate: Predicate, out: &mut Vec<u32>) {
        if let Geometry::Point(p) = g {
            return self.match_point(p.0, predicate, out);
        }
        let Some(r) = g.bounding_rect() else { return };
        let start = out.len();
        let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
        for e in self.tree.locate_in_envelope_intersecting(&env) {
            if exact(self.geoms[e.data as usize].as_ref(), g, predicate) {
                out.push(e.data);
            }
        }
        out[start..].sort_unstable();
    }
}

/// The functions' own test on a pair (the build geometry first).
fn exact(build: Option<&Geometry<f64>>, probe: &Geometry<f64>, predicate: Predicate) -> bool {
    build.is_some_and(|b| match predicate {
        Predicate::Contains => b.contains(probe),
        Predicate::Intersects => b.intersects(probe),
    })
}

/// Evaluates `e` on `batch` as an array of `to`.
fn evaluate(e: &Arc<dyn PhysicalExpr>, batch: &RecordBatch, to: &DataType) -> Result<ArrayRef> {
    let a = e.evaluate(batch)?.into_array(batch.num_rows())?;
    Ok(if a.data_type() == to {
        a
    } else {
        cast(&a, to)?
    })
}

/// What each probe stream needs.
struct Prober {
    geom: ProbeGeom,
    predicate: Predicate,
    build_left: bool,
    side: ProbeSide,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    function: String,
}

impl Prober {
    fn join(&self, index: &BuildIndex, batch: &RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        // (probe row, build row) pairs, in probe row order.
        let pairs: Vec<(u32, u32)> = match &self.geom {
            ProbeGeom::Point(x, y) => {
                let (x, y) = (
                    evaluate(x, batch, &DataType::Float64)?,
                    evaluate(y, batch, &DataType::Float64)?,
                );
                let (x, y) = (
                    x.as_primitive::<Float64Type>(),
                    y.as_primitive::<Float64Type>(),
                );
                (0..n)
                    .into_par_iter()
                    .with_min_len(1024)
                    .fold(Vec::new, |mut acc, i| {
                        if x.is_valid(i) && y.is_valid(i) {
                            let mut hits = Vec::new();
                            let c = Coord {
                                x: x.value(i),
                                y: y.value(i),
                            };
                            index.match_point(c, self.predicate, &mut hits);
                            acc.extend(hits.into_iter().map(|b| (i as u32, b)));
                        }
                        acc
                    })
                    .flatten_iter()
                    .collect()
            }
            ProbeGeom::Wkb(g) => {
                let g = evaluate(g, batch, &DataType::Binary)?;
                let g = g.as_binary::<i32>();
                let arg = 2;
                let decoded: Vec<Option<Geometry<f64>>> = (0..n)
                    .map(|i| {
                        if g.is_null(i) {
                            Ok(None)
                        } else {
                            decode(&self.function, arg, g.value(i)).map(Some)
                        }
                    })
                    .collect::<Result<_>>()?;
                (0..n)
                    .into_par_iter()
                    .with_min_len(256)
                    .fold(Vec::new, |mut acc, i| {
                        if let Some(geom) = &decoded[i] {
                            let mut hits = Vec::new();
                            index.match_geometry(geom, self.predicate, &mut hits);
                            acc.extend(hits.into_iter().map(|b| (i as u32, b)));
                        }
                        acc
                    })
                    .flatten_iter()
                    .collect()
            }
        };
        let projected;
        let batch = match &self.side.exprs {
            None => batch,
            Some(exprs) => {
                let columns = exprs
                    .iter()
                    .map(|e| e.evaluate(batch)?.into_array(n))
                    .collect::<Result<Vec<_>>>()?;
                projected = RecordBatch::try_new_with_options(
                    Arc::clone(&self.side.schema),
                    columns,
                    &RecordBatchOptions::new().with_row_count(Some(n)),
                )?;
                &projected
            }
        };
        let probe_rows = UInt32Array::from_iter_values(pairs.iter().map(|p| p.0));
        let build_rows = UInt32Array::from_iter_values(pairs.iter().map(|p| p.1));
        let (left, left_rows, right, right_rows) = if self.build_left {
            (&index.batch, &build_rows, batch, &probe_rows)
        } else {
            (batch, &probe_rows, &index.batch, &build_rows)
        };
        let n_left = left.num_columns();
        let column = |j: usize| -> Result<ArrayRef> {
            Ok(if j < n_left {
                take(left.column(j), left_rows, None)?
            } else {
                take(right.column(j - n_left), right_rows, None)?
            })
        };
        let columns = match &self.projection {
            Some(p) => p.iter().map(|&j| column(j)).collect::<Result<Vec<_>>>()?,
            None => (0..n_left + right.num_columns())
                .map(column)
                .collect::<Result<Vec<_>>>()?,
        };
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(pairs.len())),
        )?)
    }
}

/// Serialises [`SpatialJoinExec`] for a remote executor (Ballista): its expressions as
/// DataFusion's protobuf, the rest as fields of a small protobuf message of its own. Register
/// it as the physical extension codec of the scheduler and the executors; the functions
/// inside the expressions are found by name in the executor's registry.
#[derive(Debug, Default)]
pub struct SpatialJoinCodec;

/// The wire form of a [`SpatialJoinExec`] (its two children travel as the plan's inputs).
#[derive(Clone, PartialEq, prost::Message)]
struct SpatialJoinProto {
    #[prost(bool, tag = "1")]
    build_left: bool,
    #[prost(bool, tag = "2")]
    contains: bool,
    #[prost(string, tag = "3")]
    function: String,
    #[prost(bool, tag = "4")]
    has_projection: bool,
    #[prost(uint64, repeated, tag = "5")]
    projection: Vec<u64>,
    #[prost(message, optional, tag = "6")]
    build_geom: Option<datafusion_proto::protobuf::PhysicalExprNode>,
    /// Two expressions (x, y) for a point, one for WKB.
    #[prost(message, repeated, tag = "7")]
    probe_geom: Vec<datafusion_proto::protobuf::PhysicalExprNode>,
    #[prost(message, optional, tag = "8")]
    probe_schema: Option<datafusion_proto::protobuf::Schema>,
    #[prost(bool, tag = "9")]
    has_probe_exprs: bool,
    #[prost(message, repeated, tag = "10")]
    probe_exprs: Vec<datafusion_proto::protobuf::PhysicalExprNode>,
}

impl datafusion_proto::physical_plan::PhysicalExtensionCodec for SpatialJoinCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        _: &dyn datafusion_proto::physical_plan::PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        use datafusion_proto::physical_plan::from_proto::parse_physical_expr;
        use prost::Message;
        let m = SpatialJoinProto::decode(buf)
            .map_err(|e| DataFusionError::Internal(format!("SpatialJoinExec: {e}")))?;
        let [left, right]: [Arc<dyn ExecutionPlan>; 2] = match inputs.to_vec().try_into() {
            Ok(c) => c,
            Err(_) => return internal_err!("SpatialJoinExec has two inputs"),
        };
        let (build, probe) = if m.build_left {
            (&left, &right)
        } else {
            (&right, &left)
        };
        let expr = |node: &datafusion_proto::protobuf::PhysicalExprNode,
                    schema: &arrow::datatypes::Schema| {
            parse_physical_expr(node, ctx, schema, self)
        };
        let Some(bg) = &m.build_geom else {
            return internal_err!("SpatialJoinExec without its build geometry");
        };
        let build_geom = expr(bg, &build.schema())?;
        let probe_schema = probe.schema();
        let probe_geom = match m.probe_geom.as_slice() {
            [x, y] => ProbeGeom::Point(expr(x, &probe_schema)?, expr(y, &probe_schema)?),
            [g] => ProbeGeom::Wkb(expr(g, &probe_schema)?),
            _ => {
                return internal_err!(
                    "SpatialJoinExec: a probe geometry of one or two expressions"
                );
            }
        };
        let schema: SchemaRef = match &m.probe_schema {
            Some(s) => Arc::new(arrow::datatypes::Schema::try_from(s).map_err(|e| {
                DataFusionError::Internal(format!("SpatialJoinExec: probe schema: {e}"))
            })?),
            None => probe.schema(),
        };
        let exprs = if m.has_probe_exprs {
            Some(
                m.probe_exprs
                    .iter()
                    .map(|e| expr(e, &probe_schema))
                    .collect::<Result<Vec<_>>>()?,
            )
        } else {
            None
        };
        Ok(Arc::new(SpatialJoinExec::new(
            left.clone(),
            right.clone(),
            if m.build_left {
                JoinSide::Left
            } else {
                JoinSide::Right
            },
            build_geom,
            probe_geom,
            ProbeSide { schema, exprs },
            if m.contains {
                Predicate::Contains
            } else {
                Predicate::Intersects
            },
            m.function,
            m.has_projection
                .then(|| m.projection.iter().map(|&i| i as usize).collect()),
        )))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _: &dyn datafusion_proto::physical_plan::PhysicalProtoConverterExtension,
    ) -> Result<()> {
        use datafusion_proto::physical_plan::to_proto::serialize_physical_expr;
        use prost::Message;
        let Some(j) = node.downcast_ref::<SpatialJoinExec>() else {
            return datafusion::common::not_impl_err!(
                "SpatialJoinCodec encodes SpatialJoinExec only, not {}",
                node.name()
            );
        };
        let ser = |e: &Arc<dyn PhysicalExpr>| serialize_physical_expr(e, self);
        let m = SpatialJoinProto {
            build_left: j.build_side == JoinSide::Left,
            contains: j.predicate == Predicate::Contains,
            function: j.function.clone(),
            has_projection: j.projection.is_some(),
            projection: j.projection.iter().flatten().map(|&i| i as u64).collect(),
            build_geom: Some(ser(&j.build_geom)?),
            probe_geom: match &j.probe_geom {
                ProbeGeom::Point(x, y) => vec![ser(x)?, ser(y)?],
                ProbeGeom::Wkb(g) => vec![ser(g)?],
            },
            probe_schema: Some(
                datafusion_proto::protobuf::Schema::try_from(j.probe_side.schema.as_ref())
                    .map_err(|e| DataFusionError::Internal(format!("SpatialJoinExec: {e}")))?,
            ),
            has_probe_exprs: j.probe_side.exprs.is_some(),
            probe_exprs: j
                .probe_side
                .exprs
                .iter()
                .flatten()
                .map(ser)
                .collect::<Result<_>>()?,
        };
        m.encode(buf)
            .map_err(|e| DataFusionError::Internal(format!("SpatialJoinExec: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use arrow::array::{BinaryArray, Float64Array, Int64Array};
    use arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;
    use geo::{Coord, LineString, Point, Polygon, coord};
    use mobility_geo::wkb::to_wkb;

    use super::*;
    use crate::functions::{self, Lookups};

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A star-shaped ring (non-convex, simple) around (cx, cy).
    fn star(r: &mut Lcg, cx: f64, cy: f64, radius: f64, k: usize) -> LineString<f64> {
        let mut pts: Vec<Coord<f64>> = (0..k)
            .map(|i| {
                let a = i as f64 / k as f64 * std::f64::consts::TAU;
                let rr = radius * (0.4 + 0.6 * r.next());
                coord! { x: cx + rr * a.cos(), y: cy + rr * a.sin() }
            })
            .collect();
        pts.push(pts[0]);
        LineString(pts)
    }

    /// Overlapping stars (some with holes, some multipolygons) and unit squares on an integer
    /// grid, so that points land exactly on shared edges and vertices too.
    fn polygons(r: &mut Lcg) -> Vec<Geometry<f64>> {
        let mut out = Vec::new();
        for i in 0..40 {
            let (cx, cy) = (r.next() * 10.0, r.next() * 10.0);
            let radius = 0.5 + 2.0 * r.next();
            let outer = star(r, cx, cy, radius, 5 + i % 9);
            let holes = if i % 3 == 0 {
                vec![star(r, cx, cy, 0.15, 6)]
            } else {
                vec![]
            };
            let p = Polygon::new(outer, holes);
            out.push(if i % 5 == 0 {
                let other = Polygon::new(star(r, cx + 3.0, cy - 2.0, 0.8, 7), vec![]);
                Geometry::MultiPolygon(MultiPolygon(vec![p, other]))
            } else {
                Geometry::Polygon(p)
            });
        }
        for x in 0..4 {
            for y in 0..4 {
                let rect = geo::Rect::new(
                    coord! { x: f64::from(x), y: f64::from(y) },
                    coord! { x: f64::from(x + 1), y: f64::from(y + 1) },
                );
                out.push(Geometry::Polygon(rect.to_polygon()));
            }
        }
        out
    }

    /// Random points, the grid's vertices and edge midpoints, and NULLs.
    fn points(r: &mut Lcg) -> Vec<Option<(f64, f64)>> {
        let mut out: Vec<_> = (0..4000)
            .map(|_| Some((r.next() * 14.0 - 2.0, r.next() * 14.0 - 2.0)))
            .collect();
        for i in 0..=8 {
            for j in 0..=8 {
                out.push(Some((f64::from(i) * 0.5, f64::from(j) * 0.5)));
            }
        }
        out.extend([None, None]);
        out
    }

    async fn context(polys: &[Geometry<f64>], pts: &[Option<(f64, f64)>]) -> SessionContext {
        let ctx = crate::session::context();
        for f in functions::all(&Lookups::default()) {
            ctx.register_udf(f);
        }
        let poly_schema = Arc::new(Schema::new(vec![
            Field::new("poly_id", DataType::Int64, false),
            Field::new("geometry", DataType::Binary, true),
        ]));
        let wkb: Vec<Vec<u8>> = polys.iter().map(|g| to_wkb(g).unwrap()).collect();
        // Two batches, so the build side is concatenated from more than one.
        let half = polys.len() / 2;
        let batch = |range: std::ops::Range<usize>| {
            RecordBatch::try_new(
                Arc::clone(&poly_schema),
                vec![
                    Arc::new(Int64Array::from_iter_values(
                        range.clone().map(|i| i as i64),
                    )),
                    Arc::new(BinaryArray::from_iter_values(wkb[range].iter())),
                ],
            )
            .unwrap()
        };
        let t = MemTable::try_new(
            Arc::clone(&poly_schema),
            vec![vec![batch(0..half)], vec![batch(half..polys.len())]],
        )
        .unwrap();
        ctx.register_table("polys", Arc::new(t)).unwrap();

        let pt_schema = Arc::new(Schema::new(vec![
            Field::new("pt_id", DataType::Int64, false),
            Field::new("lon", DataType::Float64, true),
            Field::new("lat", DataType::Float64, true),
            Field::new("geom", DataType::Binary, true),
        ]));
        let pb = RecordBatch::try_new(
            Arc::clone(&pt_schema),
            vec![
                Arc::new(Int64Array::from_iter_values(0..pts.len() as i64)),
                Arc::new(Float64Array::from_iter(pts.iter().map(|p| p.map(|p| p.0)))),
                Arc::new(Float64Array::from_iter(pts.iter().map(|p| p.map(|p| p.1)))),
                Arc::new(BinaryArray::from_iter(pts.iter().map(|p| {
                    p.map(|(x, y)| to_wkb(&Geometry::Point(Point::new(x, y))).unwrap())
                }))),
            ],
        )
        .unwrap();
        let chunks: Vec<Vec<RecordBatch>> = (0..3)
            .map(|k| {
                let n = pb.num_rows();
                vec![pb.slice(k * n / 3, (k + 1) * n / 3 - k * n / 3)]
            })
            .collect();
        let t = MemTable::try_new(pt_schema, chunks).unwrap();
        ctx.register_table("pts", Arc::new(t)).unwrap();
        ctx
    }

    async fn pairs(ctx: &SessionContext, sql: &str) -> (BTreeSet<(i64, i64)>, String) {
        let df = ctx.sql(sql).await.unwrap();
        let plan = datafusion::physical_plan::displayable(
            df.clone().create_physical_plan().await.unwrap().as_ref(),
        )
        .indent(false)
        .to_string();
        let mut out = BTreeSet::new();
        for b in df.collect().await.unwrap() {
            let (p, z) = (
                b.column(0).as_primitive::<arrow::datatypes::Int64Type>(),
                b.column(1).as_primitive::<arrow::datatypes::Int64Type>(),
            );
            for i in 0..b.num_rows() {
                assert!(out.insert((p.value(i), z.value(i))), "pair twice: {sql}");
            }
        }
        (out, plan)
    }

    #[tokio::test]
    async fn equals_the_nested_loop_and_a_brute_force_on_random_data() {
        let mut r = Lcg(7);
        let polys = polygons(&mut r);
        let pts = points(&mut r);
        let ctx = context(&polys, &pts).await;
        let queries = [
            (
                "SELECT p.pt_id, z.poly_id FROM pts p JOIN polys z ON ST_Contains(z.geometry, ST_Point(p.lon, p.lat))",
                Predicate::Contains,
            ),
            (
                "SELECT p.pt_id, z.poly_id FROM polys z JOIN pts p ON ST_Contains(z.geometry, ST_Point(p.lon, p.lat))",
                Predicate::Contains,
            ),
            (
                "SELECT p.pt_id, z.poly_id FROM pts p, polys z WHERE ST_Within(ST_Point(p.lon, p.lat), z.geometry)",
                Predicate::Contains,
            ),
            (
                "SELECT p.pt_id, z.poly_id FROM pts p JOIN polys z ON ST_Intersects(ST_Point(p.lon, p.lat), z.geometry)",
                Predicate::Intersects,
            ),
            (
                "SELECT p.pt_id, z.poly_id FROM pts p JOIN polys z ON ST_Intersects(z.geometry, p.geom)",
                Predicate::Intersects,
            ),
            (
                "SELECT p.pt_id, z.poly_id FROM pts p JOIN polys z ON ST_Contains(z.geometry, p.geom)",
                Predicate::Contains,
            ),
        ];
        for (sql, predicate) in queries {
            let brute: BTreeSet<(i64, i64)> = pts
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.map(|p| (i, Geometry::Point(Point::new(p.0, p.1)))))
                .flat_map(|(i, p)| {
                    polys
                        .iter()
                        .enumerate()
                        .filter(move |(_, z)| exact(Some(z), &p, predicate))
                        .map(move |(j, _)| (i as i64, j as i64))
                })
                .collect();
            let (indexed, plan) = pairs(&ctx, sql).await;
            assert!(plan.contains("SpatialJoinExec"), "{sql}\n{plan}");
            ctx.sql("SET mobility.spatial_join = false").await.unwrap();
            let (nested, plan) = pairs(&ctx, sql).await;
            ctx.sql("SET mobility.spatial_join = true").await.unwrap();
            assert!(plan.contains("NestedLoopJoinExec"), "{sql}\n{plan}");
            assert_eq!(indexed, nested, "{sql}");
            assert_eq!(indexed, brute, "{sql}");
            // Enough pairs, and the boundary points make Contains and Intersects differ.
            assert!(indexed.len() > 2000, "{sql}: {} pairs", indexed.len());
        }
        let contains = pairs(&ctx, queries[0].0).await.0;
        let intersects = pairs(&ctx, queries[3].0).await.0;
        assert!(contains.is_subset(&intersects));
        assert!(
            intersects.len() > contains.len() + 50,
            "{} vs {}",
            intersects.len(),
            contains.len()
        );
    }

    /// The plan with a SpatialJoinExec goes through DataFusion's protobuf with
    /// [`SpatialJoinCodec`], as it would to a Ballista executor, into a fresh session that only
    /// has the functions registered, and gives the same pairs there.
    #[tokio::test]
    async fn the_join_survives_serialisation_to_a_remote_executor() {
        use datafusion::parquet::arrow::ArrowWriter;
        use datafusion_proto::bytes::{
            physical_plan_from_bytes_with_extension_codec,
            physical_plan_to_bytes_with_extension_codec,
        };
        let mut r = Lcg(11);
        let (polys, pts) = (polygons(&mut r), points(&mut r));
        let mem = context(&polys, &pts).await;
        let dir = std::env::temp_dir().join(format!("mobility-sj-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ctx = crate::session::context();
        for f in functions::all(&Lookups::default()) {
            ctx.register_udf(f);
        }
        for t in ["polys", "pts"] {
            let batches = mem
                .sql(&format!("SELECT * FROM {t}"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let path = dir.join(format!("{t}.parquet"));
            let mut w = ArrowWriter::try_new(
                std::fs::File::create(&path).unwrap(),
                batches[0].schema(),
                None,
            )
            .unwrap();
            for b in &batches {
                w.write(b).unwrap();
            }
            w.close().unwrap();
            ctx.register_parquet(t, path.to_str().unwrap(), Default::default())
                .await
                .unwrap();
        }
        for sql in [
            "SELECT p.pt_id, z.poly_id FROM pts p JOIN polys z ON ST_Contains(z.geometry, ST_Point(p.lon, p.lat))",
            "SELECT p.pt_id, z.poly_id FROM polys z JOIN pts p ON ST_Intersects(z.geometry, p.geom)",
        ] {
            let plan = ctx
                .sql(sql)
                .await
                .unwrap()
                .create_physical_plan()
                .await
                .unwrap();
            let shown = datafusion::physical_plan::displayable(plan.as_ref())
                .indent(false)
                .to_string();
            assert!(shown.contains("SpatialJoinExec"), "{shown}");
            let bytes =
                physical_plan_to_bytes_with_extension_codec(plan.clone(), &SpatialJoinCodec)
                    .unwrap();
            let remote = crate::session::context();
            for f in functions::all(&Lookups::default()) {
                remote.register_udf(f);
            }
            let back = physical_plan_from_bytes_with_extension_codec(
                &bytes,
                &remote.task_ctx(),
                &SpatialJoinCodec,
            )
            .unwrap();
            let back_shown = datafusion::physical_plan::displayable(back.as_ref())
                .indent(false)
                .to_string();
            assert_eq!(shown, back_shown);
            let pairs = |batches: Vec<RecordBatch>| -> BTreeSet<(i64, i64)> {
                let mut out = BTreeSet::new();
                for b in batches {
                    let (p, z) = (
                        b.column(0).as_primitive::<arrow::datatypes::Int64Type>(),
                        b.column(1).as_primitive::<arrow::datatypes::Int64Type>(),
                    );
                    for i in 0..b.num_rows() {
                        out.insert((p.value(i), z.value(i)));
                    }
                }
                out
            };
            let here = pairs(
                datafusion::physical_plan::collect(plan, ctx.task_ctx())
                    .await
                    .unwrap(),
            );
            let there = pairs(
                datafusion::physical_plan::collect(back, remote.task_ctx())
                    .await
                    .unwrap(),
            );
            assert!(here.len() > 2000, "{sql}: {} pairs", here.len());
            assert_eq!(here, there, "{sql}");
        }
        // The geo functions alone: their results do not depend on field metadata, so a plan
        // that crossed the wire computes the same.
        let sql = "SELECT pt_id, ST_AsText(ST_Transform(ST_Point(lon, lat), 4326, 25833)) AS utm, \
                   geodesic_km(lon, lat, 10.5, 59.9) AS g, distance_band(haversine_km(lon, lat, 1.0, 1.0)) AS band, \
                   ST_Area(ST_Buffer(geom, 100)) AS area, ST_Contains(ST_GeomFromText('POLYGON((0 0, 5 0, 5 5, 0 5, 0 0))'), geom) AS inside \
                   FROM pts WHERE lon IS NOT NULL AND lon > -1 AND lat > -1 ORDER BY pt_id";
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let bytes =
            physical_plan_to_bytes_with_extension_codec(plan.clone(), &SpatialJoinCodec).unwrap();
        let remote = crate::session::context();
        for f in functions::all(&Lookups::default()) {
            remote.register_udf(f);
        }
        let back = physical_plan_from_bytes_with_extension_codec(
            &bytes,
            &remote.task_ctx(),
            &SpatialJoinCodec,
        )
        .unwrap();
        let show = |b: Vec<RecordBatch>| {
            arrow::util::pretty::pretty_format_batches(&b)
                .unwrap()
                .to_string()
        };
        let here = show(
            datafusion::physical_plan::collect(plan, ctx.task_ctx())
                .await
                .unwrap(),
        );
        let there = show(
            datafusion::physical_plan::collect(back, remote.task_ctx())
                .await
                .unwrap(),
        );
        assert!(here.lines().count() > 1000, "{here}");
        assert_eq!(here, there);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn other_joins_keep_the_nested_loop_and_bad_geometry_is_an_error() {
        let mut r = Lcg(3);
        let ctx = context(&polygons(&mut r), &points(&mut r)).await;
        // A left join and a filter with a second condition are not rewritten.
        for sql in [
            "SELECT p.pt_id, z.poly_id FROM pts p LEFT JOIN polys z ON ST_Contains(z.geometry, ST_Point(p.lon, p.lat))",
            "SELECT p.pt_id, z.poly_id FROM pts p JOIN polys z ON ST_Contains(z.geometry, ST_Point(p.lon, p.lat)) OR p.pt_id = 1",
        ] {
            let plan = format!(
                "{}",
                datafusion::physical_plan::displayable(
                    ctx.sql(sql)
                        .await
                        .unwrap()
                        .create_physical_plan()
                        .await
                        .unwrap()
                        .as_ref()
                )
                .indent(false)
            );
            assert!(!plan.contains("SpatialJoinExec"), "{sql}\n{plan}");
        }
        let err = ctx
            .sql("SELECT count(*) FROM pts p JOIN (SELECT X'0102' AS geometry) z ON ST_Contains(z.geometry, ST_Point(p.lon, p.lat))")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("st_contains: argument 1 is not a valid geometry"),
            "{err}"
        );
    }
}
