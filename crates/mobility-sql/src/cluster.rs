//! Running the project's SQL on Apache DataFusion Ballista: what the client, the scheduler and
//! the executors each need to know of the project (docs/cluster.md).
//!
//! Codecs never travel: every process must be started by `mobility` itself, so that
//! - the scheduler decodes the client's logical plan against the project's functions and
//!   plans it with the project's physical rules ([`scheduler_session`]): the indexed spatial
//!   join and `lookup_once`. Ballista's adaptive planner would replace those rules with its own
//!   fixed list, so the scheduler's sessions plan statically;
//! - the executors find the functions by name in their registry ([`function_registry`]) and
//!   decode the spatial join with [`PlanCodec`];
//! - the client registers the functions after connecting ([`remote_context`]), because
//!   connecting replaces the session's function lists with Ballista's.
//!
//! The look-up functions (`zone_of`, `nearest_stop_m`) carry their zones and stops inside the
//! function, and only the function's name travels: the scheduler and each executor open the
//! data directory themselves (`--data`) and build the same look-ups from it.

use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::execution::{FunctionRegistry, TaskContext};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use crate::options::MobilityOptions;
use crate::spatial_join::{self, SpatialJoinCodec, SpatialJoinExec};

/// The first byte of an encoded plan node: whose codec wrote the rest.
const BALLISTA: u8 = 0;
const SPATIAL_JOIN: u8 = 1;

/// The physical plan codec of the scheduler and the executors: the project's spatial join
/// (tagged), everything else (Ballista's shuffle readers and writers) by Ballista's codec.
#[derive(Debug, Default)]
pub struct PlanCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PlanCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.split_first() {
            Some((&SPATIAL_JOIN, rest)) => SpatialJoinCodec.try_decode(rest, inputs, ctx, proto),
            Some((&BALLISTA, rest)) => self.ballista.try_decode(rest, inputs, ctx, proto),
            _ => Err(DataFusionError::Internal(format!(
                "mobility's plan codec: a node tagged {:?} is neither Ballista's nor the spatial join (are all processes the same mobility version?)",
                buf.first()
            ))),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if node.downcast_ref::<SpatialJoinExec>().is_some() {
            buf.push(SPATIAL_JOIN);
            SpatialJoinCodec.try_encode(node, buf, proto)
        } else {
            buf.push(BALLISTA);
            self.ballista.try_encode(node, buf, proto)
        }
    }
}

/// The session configuration every process starts from: Ballista's, with mobility's options
/// (`SET mobility.…` travels from the client with each query and is kept only where the
/// extension is registered).
pub fn config() -> SessionConfig {
    SessionConfig::new_with_ballista()
        .with_information_schema(true)
        .with_option_extension(MobilityOptions::default())
}

/// The scheduler's session for each client session: the functions of `local` (a session
/// opened on the data directory), the project's physical rules, static planning.
pub fn scheduler_session(
    local: &SessionState,
) -> impl Fn(SessionConfig) -> Result<SessionState> + Send + Sync + 'static {
    let scalars: Vec<_> = local.scalar_functions().values().cloned().collect();
    let aggregates: Vec<_> = local.aggregate_functions().values().cloned().collect();
    // The local session's runtime: its object stores (a data directory in a bucket) are
    // needed to list a table's files when planning.
    let runtime = Arc::clone(local.runtime_env());
    move |config: SessionConfig| {
        // The client always sends `ballista.planner.adaptive.enabled`; the adaptive planner
        // would drop the spatial join rule, so it is turned off here, after the client's word.
        let config = config.with_ballista_adaptive_query_planner(false);
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(Arc::clone(&runtime))
            .with_default_features()
            .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
            .with_physical_optimizer_rules(spatial_join::physical_optimizer_rules())
            .build();
        for f in &scalars {
            state.register_udf(Arc::clone(f))?;
        }
        for f in &aggregates {
            state.register_udaf(Arc::clone(f))?;
        }
        Ok(state)
    }
}

/// The executors' function registry: every function of `local`, the project's with their
/// look-ups.
pub fn function_registry(local: &SessionState) -> BallistaFunctionRegistry {
    BallistaFunctionRegistry::from(local)
}

/// The runtime of each of an executor's tasks: spills in `work_dir`, and the object stores of
/// `local` (a data directory in a bucket). Ballista puts its memory pool on top.
pub fn executor_runtime(
    local: &SessionState,
    work_dir: std::path::PathBuf,
) -> impl Fn(&SessionConfig) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>>
+ Send
+ Sync
+ 'static {
    let stores = Arc::clone(&local.runtime_env().object_store_registry);
    move |_| {
        Ok(Arc::new(
            datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
                .with_temp_file_path(work_dir.clone())
                .with_object_store_registry(Arc::clone(&stores))
                .build()?,
        ))
    }
}

/// A client context on the scheduler at `url` (`df://HOST:PORT`), with the project's options;
/// the caller registers the functions on it.
pub async fn remote_context(url: &str) -> Result<SessionContext> {
    use ballista::extension::SessionContextExt;
    let state = SessionStateBuilder::new()
        .with_config(config())
        .with_default_features()
        .build();
    SessionContext::remote_with_state(url, state).await
}

/// The names of the project's own functions, for the logs of the scheduler and executors.
pub fn project_functions() -> Vec<String> {
    let mut names: Vec<String> = crate::functions::all(&crate::functions::Lookups::default())
        .iter()
        .map(|f| f.name().to_string())
        .chain(
            crate::functions::aggregates()
                .iter()
                .map(|f| f.name().to_string()),
        )
        .collect();
    names.sort();
    names
}
