//! `mobility scheduler` and `mobility executor`: Ballista's scheduler and executor in this
//! process, knowing the project's functions, plan rules and plan codec (docs/cluster.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use datafusion::execution::session_state::SessionState;

#[derive(Args)]
pub struct SchedulerArgs {
    /// Address to listen on for clients and executors. Loopback by default: Ballista has no
    /// authentication, so keep a cluster on a private network (docs/cluster.md).
    #[arg(long, default_value = "127.0.0.1:50050")]
    bind: SocketAddr,
    /// The data directory whose zones and stops the look-up functions (`zone_of`,
    /// `nearest_stop_m`) use [default: `data` of mobility.toml, else data/sample].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seconds without a heartbeat after which an executor counts as lost and its tasks are
    /// run again elsewhere.
    #[arg(long, value_name = "SECONDS", default_value_t = 180)]
    executor_timeout: u64,
    /// Seconds between the scheduler's checks for lost executors.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    expire_interval: u64,
    /// Settings file [default: $MOBILITY_CONFIG, else ./mobility.toml if present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args)]
pub struct ExecutorArgs {
    /// The scheduler, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    scheduler: String,
    /// Address of the executor's Arrow Flight service, which serves its results to clients
    /// and other executors; port 0 picks a free one. Loopback by default (docs/cluster.md).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Port of the executor's gRPC service, which takes tasks from the scheduler; 0 picks a
    /// free one.
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    grpc_port: u16,
    /// The host name clients and other executors reach this executor by [default: the
    /// --bind address].
    #[arg(long, value_name = "HOST")]
    external_host: Option<String>,
    /// Folder of the shuffle files and spills [default: a temporary folder removed at exit].
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Tasks run at once [default: the machine's cores].
    #[arg(long, value_name = "N")]
    concurrent_tasks: Option<usize>,
    /// Seconds between heartbeats to the scheduler.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    heartbeat: u64,
    /// The data directory whose zones and stops the look-up functions use [default: `data` of
    /// mobility.toml, else data/sample]: the same as the scheduler's.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Memory the executor's tasks may hold (2GiB, 512MiB, 75%) [default: memory_limit of
    /// mobility.toml, else 75%].
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Settings file [default: $MOBILITY_CONFIG, else ./mobility.toml if present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// A session on the data directory, opened in this process: the functions with their
/// look-ups, for the scheduler's sessions and the executor's registry.
async fn local_functions(
    settings: &crate::config::Settings,
    data: Option<&PathBuf>,
) -> anyhow::Result<SessionState> {
    let data = data.cloned().unwrap_or_else(|| settings.data.value.clone());
    if !data.is_dir() && !data.to_string_lossy().starts_with("s3://") {
        anyhow::bail!(
            "data directory {} does not exist: the look-up functions need its zones and stops (--data)",
            data.display()
        );
    }
    let options = mobility_sql::SessionOptions {
        calendar: settings.holidays.value.clone(),
        ..Default::default()
    };
    let session = mobility_sql::open_with(&data, Vec::new(), options)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.strip_backtrace()))?;
    log::info!(
        "look-ups from {} (commit {}); functions: {}",
        data.display(),
        session.snapshot.commit,
        mobility_sql::cluster::project_functions().join(", ")
    );
    Ok(session.ctx.state())
}

/// Stops at SIGINT or SIGTERM.
async fn signalled() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

pub async fn scheduler(a: SchedulerArgs) -> anyhow::Result<()> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let settings = crate::config::Settings::resolve(a.config.as_deref(), &[])?;
    let local = local_functions(&settings, a.data.as_ref()).await?;
    let config = SchedulerConfig {
        bind_host: a.bind.ip().to_string(),
        bind_port: a.bind.port(),
        external_host: a.bind.ip().to_string(),
        executor_timeout_seconds: a.executor_timeout,
        expire_dead_executor_interval_seconds: a.expire_interval,
        override_config_producer: Some(Arc::new(mobility_sql::cluster::config)),
        override_session_builder: Some(Arc::new(mobility_sql::cluster::scheduler_session(&local))),
        override_physical_codec: Some(Arc::new(mobility_sql::cluster::PlanCodec::default())),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| anyhow::anyhow!("starting the scheduler's state: {e}"))?;
    log::info!(
        "scheduler on {} (static planning with the spatial join and lookup_once rules; plan codec: Ballista's and the spatial join's); executors lost after {} s",
        a.bind,
        a.executor_timeout
    );
    tokio::select! {
        r = ballista_scheduler::scheduler_process::start_server(cluster, a.bind, Arc::new(config)) => {
            r.map_err(|e| anyhow::anyhow!("the scheduler on {}: {e}", a.bind))?;
        }
        _ = signalled() => log::info!("scheduler on {} stopping", a.bind),
    }
    Ok(())
}

/// The ports asked for, with each 0 replaced by a free TCP port on `host` (the OS's choice;
/// all are held at once, so two never coincide, and released just before Ballista binds them).
fn free_ports<const N: usize>(host: std::net::IpAddr, asked: [u16; N]) -> anyhow::Result<[u16; N]> {
    let mut held = Vec::new();
    let mut out = asked;
    for p in out.iter_mut().filter(|p| **p == 0) {
        let l = std::net::TcpListener::bind((host, 0)).context("finding a free port")?;
        *p = l.local_addr()?.port();
        held.push(l);
    }
    Ok(out)
}

pub async fn executor(a: ExecutorArgs) -> anyhow::Result<()> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    let settings = crate::config::Settings::resolve(
        a.config.as_deref(),
        &[("memory_limit", a.memory_limit.clone())],
    )?;
    let (scheduler_host, scheduler_port) = a
        .scheduler
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .with_context(|| format!("--scheduler {}: expected HOST:PORT", a.scheduler))?;
    let local = local_functions(&settings, a.data.as_ref()).await?;
    let host = a.bind.ip();
    let [port, grpc_port] = free_ports(host, [a.bind.port(), a.grpc_port])?;
    // The work folder: given, or a temporary one removed when the executor stops.
    let temp;
    let work_dir = match &a.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| d.display().to_string())?;
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("mobility-executor-")
                .tempdir()
                .context("creating the executor's work folder")?;
            temp.path().to_path_buf()
        }
    };
    let config = ExecutorProcessConfig {
        bind_host: host.to_string(),
        external_host: Some(a.external_host.clone().unwrap_or_else(|| host.to_string())),
        port,
        grpc_port,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: a
            .concurrent_tasks
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        work_dir: Some(work_dir.display().to_string()),
        executor_heartbeat_interval_seconds: a.heartbeat,
        memory_pool_size: Some(crate::memory_limit(&settings)),
        override_function_registry: Some(Arc::new(mobility_sql::cluster::function_registry(
            &local,
        ))),
        override_runtime_producer: Some(Arc::new(mobility_sql::cluster::executor_runtime(
            &local,
            work_dir.clone(),
        ))),
        override_config_producer: Some(Arc::new(mobility_sql::cluster::config)),
        override_physical_codec: Some(Arc::new(mobility_sql::cluster::PlanCodec::default())),
        ..Default::default()
    };
    log::info!(
        "executor: Flight on {host}:{port}, gRPC on {host}:{grpc_port}, scheduler {}, work folder {}, plan codec: Ballista's and the spatial join's",
        a.scheduler,
        work_dir.display()
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| anyhow::anyhow!("the executor: {e}"))?;
    log::info!("executor on {host}:{port} stopped");
    Ok(())
}

/// A logger for the scheduler and executor (Ballista logs through `log`): records at
/// `MOBILITY_LOG` (error, warn, info, debug; default info) and above, to standard error.
pub fn init_logging() {
    struct Stderr(log::LevelFilter);
    impl log::Log for Stderr {
        fn enabled(&self, m: &log::Metadata) -> bool {
            m.level() <= self.0
        }
        fn log(&self, r: &log::Record) {
            if self.enabled(r.metadata()) {
                eprintln!(
                    "{} {:<5} {}: {}",
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    r.level(),
                    r.target(),
                    r.args()
                );
            }
        }
        fn flush(&self) {}
    }
    let level = std::env::var("MOBILITY_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(log::LevelFilter::Info);
    let logger: &'static Stderr = Box::leak(Box::new(Stderr(level)));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}
