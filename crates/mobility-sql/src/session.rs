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
use crate::spatial_join::{self, MobilityOptions};

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
    use arrow::array::{StringArray, UInt32Array};
    use arrow::datatypes::{Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("period", DataType::Utf8, false),
        Field::new("from_hour", DataType::UInt32, false),
        Field::new("to_hour", DataType::UInt32, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(periods.iter().map(|p| p.0))),
            Arc::new(UInt32Array::from_iter_values(periods.iter().map(|p| p.1))),
            Arc::new(UInt32Array::from_iter_values(periods.iter().map(|p| p.2))),
        ],
    )?;
    let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]])?;
    ctx.deregister_table("od_periods")?;
    ctx.register_table("od_periods", Arc::new(table))?;
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
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_option_extension(MobilityOptions::default());
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rules(spatial_join::physical_optimizer_rules())
        .build();
    SessionContext::new_with_state(state)
}

/// A session with every table present under `data` registered under its SQL name, the shared
/// views, and the project's functions with the zones and stops of `data` as their look-ups.
pub async fn open(data: &Path) -> Result<Session> {
    open_with(data, Vec::new(), Calendar::default()).await
}

/// [`open`], with some tables given in memory instead of read from `data` (e.g. the factor
/// tables of `mobility run --factors`): views and look-ups are built on them; and with the
/// holidays of `calendar` (Norway's and the kommune's own) in `is_holiday`, `day_type`,
/// `days_in` and the views that use them.
pub async fn open_with(
    data: &Path,
    given: Vec<(Table, Vec<RecordBatch>)>,
    calendar: Calendar,
) -> Result<Session> {
    let ctx = context();
    let mut tables = Vec::new();
    for (t, batches) in given {
        let mem = datafusion::datasource::MemTable::try_new(t.schema(), vec![batches])?;
        ctx.register_table(t.name(), Arc::new(mem))?;
        tables.push(t);
    }
    // A lease first, then one read of the pointer: every table as of one commit, and its files
    // kept, whatever an ingest does meanwhile.
    let lease = mobility_model::layout::reader_lease(data);
    let snapshot = Snapshot::read(data).map_err(|e| DataFusionError::External(Box::new(e)))?;
    for t in Table::ALL {
        if tables.contains(t) {
            continue;
        }
        let dir = snapshot.table_dir(data, *t);
        if snapshot
            .parts(data, *t)
            .map(|p| p.is_empty())
            .unwrap_or(true)
        {
            continue;
        }
        let path = format!("{}/", dir.display());
        ctx.register_parquet(t.name(), &path, ParquetReadOptions::default())
            .await?;
        tables.push(*t);
    }
    let mut lookups = Lookups {
        calendar: Arc::new(calendar),
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
