//! The session over a data directory.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use mobility_geo::Zone;
use mobility_model::Table;
use mobility_model::layout::Snapshot;
use mobility_stats::calendar::Calendar;

use crate::functions::{self, Lookups, StopIndex};
use crate::options::MobilityOptions;
use crate::spatial_join;

/// Views every session creates when the tables they read are present: (name, needs, SQL).
pub const VIEWS: &[(&str, &[Table], &str)] = &[
    (
        "person_frame",
        &[Table::Persons, Table::Households],
        include_str!("../../../queries/views/person_frame.sql"),
    ),
    (
        "person_domains",
        &[Table::Persons, Table::Households],
        include_str!("../../../queries/views/person_domains.sql"),
    ),
    (
        "mode_factors",
        &[Table::EmissionFactors, Table::FleetMix, Table::Occupancy],
        include_str!("../../../queries/views/mode_factors.sql"),
    ),
    (
        "trip_zones",
        &[Table::Trips],
        include_str!("../../../queries/views/trip_zones.sql"),
    ),
    (
        "od_trip_ends",
        &[Table::Trips],
        include_str!("../../../queries/views/od_trip_ends.sql"),
    ),
    (
        "traffic_daily",
        &[Table::TrafficHourly],
        include_str!("../../../queries/views/traffic_daily.sql"),
    ),
    (
        "traffic_mdt",
        &[Table::TrafficHourly],
        include_str!("../../../queries/views/traffic_mdt.sql"),
    ),
    (
        "traffic_adt",
        &[Table::TrafficHourly],
        include_str!("../../../queries/views/traffic_adt.sql"),
    ),
    (
        "traffic_point_index_monthly",
        &[Table::TrafficHourly],
        include_str!("../../../queries/views/traffic_point_index.sql"),
    ),
    (
        "traffic_point_index",
        &[Table::TrafficHourly],
        include_str!("../../../queries/views/traffic_point_index_yearly.sql"),
    ),
    (
        "traffic_mdt_calendar",
        &[Table::TrafficHourly],
        include_str!("../../../queries/views/traffic_mdt_calendar.sql"),
    ),
    (
        "road_link_vkm",
        &[Table::RoadLinks],
        include_str!("../../../queries/views/road_link_vkm.sql"),
    ),
];

/// The periods of the day of `od_trips_by_period`: (name, first hour, hour after the last),
/// local time; a departure in none of them is `other`.
pub const DEFAULT_OD_PERIODS: &[(&str, u32, u32)] =
    &[("morning_peak", 6, 9), ("afternoon_peak", 15, 18)];

/// Registers (or replaces) the table `od_periods` (period, from_hour, to_hour) that the view
/// `od_trip_ends` reads; views made before keep the table they were made with.
pub fn register_od_periods(ctx: &SessionContext, periods: &[(&str, u32, u32)]) -> Result<()> {
    use datafusion::prelude::lit;
    let rows = periods
        .iter()
        .map(|&(name, from, to)| vec![lit(name), lit(from), lit(to)])
        .collect();
    register_values(ctx, "od_periods", rows, &["period", "from_hour", "to_hour"])
}

/// Registers the look-up view `modes` (mode, public_transport, sustainable): one row per
/// travel mode of the data model, from [`mobility_model::Mode`], so that the queries and the
/// code read one list of what counts as public transport and as sustainable (walking, cycling
/// or public transport, Bærum's target sense).
pub fn register_modes(ctx: &SessionContext) -> Result<()> {
    use datafusion::prelude::lit;
    let rows = mobility_model::Mode::ALL
        .iter()
        .map(|m| {
            vec![
                lit(m.as_str()),
                lit(m.is_public_transport()),
                lit(m.is_sustainable()),
            ]
        })
        .collect();
    register_values(
        ctx,
        "modes",
        rows,
        &["mode", "public_transport", "sustainable"],
    )
}

/// Registers (or replaces) `name` as a view over constant rows, with `columns` as names. A
/// view of values travels in the plan to a cluster's executors, which a table held in this
/// process's memory would not.
pub fn register_values(
    ctx: &SessionContext,
    name: &str,
    rows: Vec<Vec<datafusion::prelude::Expr>>,
    columns: &[&str],
) -> Result<()> {
    use datafusion::logical_expr::LogicalPlanBuilder;
    use datafusion::prelude::col;
    let plan = LogicalPlanBuilder::values(rows)?
        .project(
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| col(format!("column{}", i + 1)).alias(*c)),
        )?
        .build()?;
    let view = datafusion::catalog::view::ViewTable::new(plan, None);
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(view))?;
    Ok(())
}

/// A session and the tables it found.
pub struct Session {
    /// The DataFusion context.
    pub ctx: SessionContext,
    /// The data-model tables present in the data directory.
    pub tables: Vec<Table>,
    /// The commit of the data directory the session reads.
    pub snapshot: Snapshot,
    /// The reader's lease on the data directory, held as long as the session may read it
    /// (`mobility_model::layout::reader_lease`).
    pub lease: Option<std::fs::File>,
}

/// A context with mobility's options (`SET mobility.…`) and planner rules (the indexed spatial
/// join), and no tables or functions yet.
pub fn context() -> SessionContext {
    context_with(&SessionOptions::default()).expect("the default runtime builds")
}

/// What a session is opened with besides its data directory.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Public holidays: Norway's and the kommune's own.
    pub calendar: Calendar,
    /// Bytes DataFusion's operators may hold (`--memory-limit`); sorts, aggregates and joins
    /// that can spill go to `temp_dir` beyond it, the others fail naming the limit. `None`:
    /// no limit.
    pub memory_limit: Option<usize>,
    /// Where spills go (default: the system's temporary directory).
    pub temp_dir: Option<std::path::PathBuf>,
    /// A Ballista scheduler, `df://HOST:PORT`: the queries run on its executors, which read
    /// the data directory by its absolute path (docs/cluster.md). `None`: in this process.
    pub cluster: Option<String>,
}

/// [`context`] with a memory pool of `options.memory_limit` (fair between the operators that
/// can spill, the five largest consumers named when it is exhausted) and spills in
/// `options.temp_dir`.
pub fn context_with(options: &SessionOptions) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_option_extension(MobilityOptions::default());
    let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
    if let Some(limit) = options.memory_limit {
        // What a sort keeps back to merge its spills: DataFusion's 10 MB would take a small
        // limit whole, so a sixteenth of the limit at most.
        let exec = &mut config.options_mut().execution;
        exec.sort_spill_reservation_bytes = exec.sort_spill_reservation_bytes.min(limit / 16);
        let pool = datafusion::execution::memory_pool::TrackConsumersPool::new(
            datafusion::execution::memory_pool::FairSpillPool::new(limit),
            std::num::NonZeroUsize::new(5).expect("5 is not 0"),
        );
        runtime = runtime.with_memory_pool(Arc::new(pool));
    }
    if let Some(dir) = &options.temp_dir {
        runtime = runtime.with_temp_file_path(dir.clone());
    }
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime.build_arc()?)
        .with_default_features()
        .with_physical_optimizer_rules(spatial_join::physical_optimizer_rules())
        .build();
    Ok(SessionContext::new_with_state(state))
}

pub use mobility_model::memory::release_free_memory;

/// A size as planners write it: `2GiB`, `512MiB`, `2G`, `1.5GB`, `800M`, `1000000` bytes, or
/// `75%` of `total` (the machine's memory). K, M, G, T are powers of 1024 with or without `i`
/// and `B`, as `free -h` shows them.
pub fn parse_size(s: &str, total: u64) -> std::result::Result<u64, String> {
    let t = s.trim();
    let bad = || format!("'{s}' is not a size such as 2GiB, 512MiB, 2G or 75%");
    if let Some(p) = t.strip_suffix('%') {
        let p: f64 = p.trim().parse().map_err(|_| bad())?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(bad());
        }
        return Ok((total as f64 * p / 100.0) as u64);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches('b').trim_end_matches('i');
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    if !(n > 0.0) || !n.is_finite() {
        return Err(bad());
    }
    // A number without a unit below a mebibyte is a slip (`0.5`, `1000`): refused.
    let bytes = (n * mult) as u64;
    if bytes < 1 << 20 && mult == 1.0 {
        return Err(format!("'{s}' is {bytes} bytes; give a unit, e.g. 512MiB"));
    }
    Ok(bytes)
}

/// The memory this process may use: the cgroup's limit in a container (`memory.max`), else
/// the machine's (`MemTotal` of /proc/meminfo), if either can be read.
pub fn machine_memory() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(cgroup.map_or(kb * 1024, |c| c.min(kb * 1024)))
}

/// A session with every table present under `data` registered under its SQL name, the shared
/// views, and the project's functions with the zones and stops of `data` as their look-ups.
pub async fn open(data: &Path) -> Result<Session> {
    open_with(data, Vec::new(), SessionOptions::default()).await
}

/// [`open`], with some tables given in memory instead of read from `data` (e.g. the factor
/// tables of `mobility run --factors`): views and look-ups are built on them; with the
/// holidays of `options.calendar` (Norway's and the kommune's own) in `is_holiday`,
/// `day_type`, `days_in` and the views that use them, and its memory limit.
pub async fn open_with(
    data: &Path,
    given: Vec<(Table, Vec<RecordBatch>)>,
    options: SessionOptions,
) -> Result<Session> {
    let ctx = match &options.cluster {
        None => context_with(&options)?,
        Some(url) => {
            if !given.is_empty() {
                return Err(DataFusionError::Plan(
                    "tables given in memory (run --factors) cannot be sent to a cluster: ingest them into the data directory (mobility ingest factors)".into(),
                ));
            }
            crate::cluster::remote_context(url)
                .await
                .map_err(|e| e.context(format!("connecting to the Ballista scheduler at {url}")))?
        }
    };
    let remote = crate::remote::Remote::of(data)?;
    if let Some(r) = &remote {
        ctx.register_object_store(&r.bucket_url, Arc::clone(&r.store));
    }
    // A cluster's executors read the tables by the path the client gives.
    let absolute;
    let data = match &options.cluster {
        Some(_) if remote.is_none() => {
            absolute = std::fs::canonicalize(data).map_err(|e| {
                DataFusionError::Execution(format!("data directory {}: {e}", data.display()))
            })?;
            absolute.as_path()
        }
        _ => data,
    };
    let mut tables = Vec::new();
    for (t, batches) in given {
        let mem = datafusion::datasource::MemTable::try_new(t.schema(), vec![batches])?;
        ctx.register_table(t.name(), Arc::new(mem))?;
        tables.push(t);
    }
    // A lease first, then one read of the pointer: every table as of one commit, and its files
    // kept, whatever an ingest does meanwhile.
    let (lease, snapshot) = match &remote {
        // Generations in a bucket are never changed once `_current` names them: no lease.
        Some(r) => (None, r.snapshot().await?),
        None => (
            mobility_model::layout::reader_lease(data),
            Snapshot::read(data).map_err(|e| DataFusionError::External(Box::new(e)))?,
        ),
    };
    for t in Table::ALL {
        if tables.contains(t) {
            continue;
        }
        let path = match &remote {
            Some(r) => match r.table_url(&snapshot, *t).await? {
                Some(url) => url,
                None => continue,
            },
            None => {
                if snapshot
                    .parts(data, *t)
                    .map(|p| p.is_empty())
                    .unwrap_or(true)
                {
                    continue;
                }
                format!("{}/", snapshot.table_dir(data, *t).display())
            }
        };
        ctx.register_parquet(t.name(), &path, ParquetReadOptions::default())
            .await?;
        tables.push(*t);
    }
    let mut lookups = Lookups {
        calendar: Arc::new(options.calendar),
        ..Lookups::default()
    };
    if tables.contains(&Table::Zones) {
        lookups.zones = Some(Arc::new(load_zones(&ctx).await?));
    }
    if tables.contains(&Table::PtStops) {
        let b = ctx
            .sql("SELECT lon, lat FROM pt_stops")
            .await?
            .collect()
            .await?;
        let mut stops = Vec::new();
        for b in &b {
            let (x, y) = (
                b.column(0).as_primitive::<Float64Type>(),
                b.column(1).as_primitive::<Float64Type>(),
            );
            stops.extend((0..b.num_rows()).map(|i| (x.value(i), y.value(i))));
        }
        lookups.stops = Some(Arc::new(StopIndex::new(stops)));
    }
    for f in functions::all(&lookups) {
        ctx.register_udf(f);
    }
    for f in functions::aggregates() {
        ctx.register_udaf(f);
    }
    register_od_periods(&ctx, DEFAULT_OD_PERIODS)?;
    register_modes(&ctx)?;
    for (name, needs, sql) in VIEWS {
        if needs.iter().all(|t| tables.contains(t)) {
            ctx.sql(sql)
                .await
                .map_err(|e| e.context(format!("creating view {name}")))?;
        }
    }
    Ok(Session {
        ctx,
        tables,
        snapshot,
        lease,
    })
}

async fn load_zones(ctx: &SessionContext) -> Result<Vec<Zone>> {
    let batches: Vec<RecordBatch> = ctx
        .sql("SELECT zone_id, kind, geometry FROM zones")
        .await?
        .collect()
        .await?;
    let mut zones = Vec::new();
    for b in &batches {
        let id = arrow::compute::cast(b.column(0), &DataType::Utf8)?;
        let kind = arrow::compute::cast(b.column(1), &DataType::Utf8)?;
        let g = arrow::compute::cast(b.column(2), &DataType::Binary)?;
        let (id, kind, g) = (
            id.as_string::<i32>(),
            kind.as_string::<i32>(),
            g.as_binary::<i32>(),
        );
        for i in 0..b.num_rows() {
            if g.is_null(i) {
                continue;
            }
            let zone = Zone::from_wkb(id.value(i), kind.value(i), g.value(i))
                .map_err(|e| DataFusionError::Execution(format!("zone {}: {e}", id.value(i))))?;
            zones.extend(zone);
        }
    }
    Ok(zones)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_as_planners_write_them() {
        let g = 1u64 << 30;
        assert_eq!(parse_size("2GiB", 0), Ok(2 * g));
        assert_eq!(parse_size("2G", 0), Ok(2 * g));
        assert_eq!(parse_size("512MiB", 0), Ok(512 << 20));
        assert_eq!(parse_size("1.5GB", 0), Ok(3 * g / 2));
        assert_eq!(parse_size("64KiB", 0), Ok(64 << 10));
        assert!(parse_size("0.5", 0).is_err() && parse_size("1000", 0).is_err());
        assert_eq!(parse_size("75%", 4 * g), Ok(3 * g));
        for bad in ["", "2 GB x", "lots", "-1G", "0", "120%", "5Q", "0.5"] {
            assert!(parse_size(bad, g).is_err(), "{bad}");
        }
    }
}
