//! mobility's session options (`SET mobility.<name> = <value>`), read by the planner rules and
//! the indicator run.

use datafusion::common::extensions_options;
use datafusion::config::ConfigExtension;

extensions_options! {
    /// mobility's session options: `SET mobility.<name> = <value>`.
    pub struct MobilityOptions {
        /// Plan `ST_Contains`/`ST_Within`/`ST_Intersects` joins as an indexed spatial join
        /// (false: DataFusion's nested loop).
        pub spatial_join: bool, default = true
        /// Compute a look-up (`zone_of`, `nearest_stop_m`) used both in a filter and above it
        /// once per row (false: as DataFusion plans it, twice).
        pub lookup_once: bool, default = true
        /// Seconds an indicator run waits for a query's next result before failing it (0: no
        /// limit). On a cluster a job that stalls (docs/cluster.md: a lost executor) otherwise
        /// waits forever.
        pub query_timeout: u64, default = 0
    }
}

impl ConfigExtension for MobilityOptions {
    const PREFIX: &'static str = "mobility";
}
