//! The settings of `mobility run` and `mobility sql`, resolved with the precedence
//! defaults < `mobility.toml` < `MOBILITY_*` environment variables < flags.
//!
//! `mobility.toml` is read from `--config <file>`, else from `MOBILITY_CONFIG`, else from
//! `./mobility.toml` when it exists. `mobility config` prints every setting with the value it
//! resolved to and where that came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env,
    Flag,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "mobility.toml",
            Source::Env => "environment",
            Source::Flag => "flag",
        }
    }
}

/// One setting: its name (as in mobility.toml; the variable is MOBILITY_<NAME>), its help,
/// and its default.
struct Key {
    name: &'static str,
    help: &'static str,
    default: Option<&'static str>,
}

const KEYS: &[Key] = &[
    Key {
        name: "data",
        help: "the data directory",
        default: Some("data/sample"),
    },
    Key {
        name: "out",
        help: "the output directory of `run`",
        default: Some("out"),
    },
    Key {
        name: "targets",
        help: "a targets file (TOML); none: Bærum's built-in targets",
        default: None,
    },
    Key {
        name: "factors",
        help: "factor CSV files or a folder of them for `run`; none: the data directory's",
        default: None,
    },
    Key {
        name: "ci_level",
        help: "confidence level of the intervals",
        default: Some("0.95"),
    },
    Key {
        name: "min_n",
        help: "suppress cells with fewer persons",
        default: Some("50"),
    },
    Key {
        name: "max_cv",
        help: "suppress cells with a larger coefficient of variation",
        default: Some("0.3"),
    },
    Key {
        name: "bootstrap",
        help: "Rao–Wu bootstrap replicates",
        default: Some("200"),
    },
    Key {
        name: "seed",
        help: "seed of the bootstrap",
        default: Some("2018"),
    },
    Key {
        name: "reference_year",
        help: "reference year of the rolling traffic index; none: the first year with ten months",
        default: None,
    },
    Key {
        name: "memory_limit",
        help: "memory the queries and estimation may hold, e.g. 2GiB, 512MiB or a share of the machine's memory (75%)",
        default: Some("75%"),
    },
    Key {
        name: "variance",
        help: "SEs of the survey indicators: default (linearisation; Woodruff for the median) or bootstrap (Rao-Wu, --bootstrap replicates)",
        default: Some("default"),
    },
    Key {
        name: "holidays",
        help: "the kommune's own holidays beside Norway's public holidays, dates: 2024-12-24,2024-12-31",
        default: None,
    },
    Key {
        name: "index_method",
        help: "method of the traffic indices: classic or calendar (SVV's calendar-adjusted MDT)",
        default: Some("classic"),
    },
    Key {
        name: "od_zone_kind",
        help: "zone kind of the origin-destination indicators (kommune, grunnkrets, ...); none: the trips' own zone ids",
        default: None,
    },
    Key {
        name: "od_periods",
        help: "periods of od_trips_by_period, name=FROM-TO in local hours",
        default: Some("morning_peak=6-9,afternoon_peak=15-18"),
    },
    Key {
        name: "lang",
        help: "language of report.html: nb or en",
        default: Some("nb"),
    },
    Key {
        name: "csv_dialect",
        help: "CSV of the indicators: utf8 or excel-nb",
        default: Some("utf8"),
    },
    Key {
        name: "cluster",
        help: "a Ballista scheduler, df://HOST:PORT, to run the queries of `run` and `sql` on; none: in this process",
        default: None,
    },
    Key {
        name: "query_timeout",
        help: "seconds a query of `run` may go without a result before the run fails (0: no limit); on a cluster, a job can stall after an executor is lost",
        default: Some("0"),
    },
    Key {
        name: "replicate_scale",
        help: "with replicate weights, c of c·Σ(θr − θ)²: jk1, bootstrap, or e.g. 6/7",
        default: Some("jk1"),
    },
];

/// The resolved settings: name → (value, source).
#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<&'static str, (Option<String>, Source)>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

impl Settings {
    /// Resolves the settings: defaults, then the file, then the environment, then `flags`
    /// (name → value given on the command line).
    pub fn resolve(
        config: Option<&Path>,
        flags: &[(&'static str, Option<String>)],
    ) -> anyhow::Result<Self> {
        let mut values: BTreeMap<&'static str, (Option<String>, Source)> = KEYS
            .iter()
            .map(|k| (k.name, (k.default.map(str::to_string), Source::Default)))
            .collect();
        let file = match config {
            Some(p) => Some(p.to_path_buf()),
            None => match std::env::var_os("MOBILITY_CONFIG") {
                Some(p) => Some(PathBuf::from(p)),
                None => Some(PathBuf::from("mobility.toml")).filter(|p| p.is_file()),
            },
        };
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("{} is not valid TOML", path.display()))?;
            for (k, v) in table {
                let Some(key) = KEYS.iter().find(|x| x.name == k) else {
                    bail!(
                        "{}: unknown setting '{k}'; the settings are {}",
                        path.display(),
                        KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
                    );
                };
                let v = match v {
                    toml::Value::String(s) => s,
                    // A list (holidays = ["2024-12-24", "2024-12-31"]) as the flags give it.
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|i| match i {
                            toml::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    other => bail!(
                        "{}: setting {k} is {other}, expected a string or a number",
                        path.display()
                    ),
                };
                values.insert(key.name, (Some(v), Source::File));
            }
        }
        for k in KEYS {
            if let Ok(v) = std::env::var(format!("MOBILITY_{}", k.name.to_uppercase())) {
                values.insert(k.name, (Some(v), Source::Env));
            }
        }
        for (name, v) in flags {
            if let Some(v) = v {
                values.insert(name, (Some(v.clone()), Source::Flag));
            }
        }
        let s = Self { values, file };
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> anyhow::Result<()> {
        let source = |k: &str| self.values[k].1.name();
        for k in ["ci_level", "max_cv"] {
            if let Some(v) = self.get(k) {
                let x: f64 = v
                    .parse()
                    .with_context(|| format!("{k} = '{v}' (from {}) is not a number", source(k)))?;
                if !(0.0..=1.0).contains(&x) || (k == "ci_level" && x == 0.0) {
                    bail!("{k} = {v} (from {}) must lie between 0 and 1", source(k));
                }
            }
        }
        for k in ["min_n", "bootstrap", "seed", "query_timeout"] {
            if let Some(v) = self.get(k) {
                v.parse::<u64>().with_context(|| {
                    format!("{k} = '{v}' (from {}) is not a whole number", source(k))
                })?;
            }
        }
        if let Some(v) = self.get("reference_year") {
            v.parse::<i64>().with_context(|| {
                format!(
                    "reference_year = '{v}' (from {}) is not a year",
                    source("reference_year")
                )
            })?;
        }
        if let Some(v) = self.get("cluster") {
            cluster_url(v).map_err(|e| {
                anyhow::anyhow!("cluster = '{v}' (from {}): {e}", source("cluster"))
            })?;
        }
        if let Some(v) = self.get("od_periods") {
            mobility_indicators::run::parse_od_periods(v).map_err(|e| {
                anyhow::anyhow!("od_periods = '{v}' (from {}): {e}", source("od_periods"))
            })?;
        }
        if let Some(v) = self.get("memory_limit") {
            mobility_sql::parse_size(v, mobility_sql::machine_memory().unwrap_or(8 << 30))
                .map_err(|e| {
                    anyhow::anyhow!("memory_limit (from {}): {e}", source("memory_limit"))
                })?;
        }
        if let Some(v) = self
            .get("variance")
            .filter(|v| !matches!(*v, "default" | "bootstrap"))
        {
            bail!(
                "variance = '{v}' (from {}) must be default or bootstrap",
                source("variance")
            );
        }
        if let Some(v) = self.get("holidays") {
            mobility_stats::calendar::Calendar::parse_extra(v)
                .map_err(|e| anyhow::anyhow!("holidays (from {}): {e}", source("holidays")))?;
        }
        if let Some(v) = self
            .get("index_method")
            .filter(|v| mobility_indicators::traffic::IndexMethod::parse(v).is_none())
        {
            bail!(
                "index_method = '{v}' (from {}) must be classic or calendar",
                source("index_method")
            );
        }
        if let Some(v) = self.get("lang").filter(|v| !matches!(*v, "nb" | "en")) {
            bail!("lang = '{v}' (from {}) must be nb or en", source("lang"));
        }
        if let Some(v) = self
            .get("csv_dialect")
            .filter(|v| !matches!(*v, "utf8" | "excel-nb"))
        {
            bail!(
                "csv_dialect = '{v}' (from {}) must be utf8 or excel-nb",
                source("csv_dialect")
            );
        }
        Ok(())
    }

    /// A setting's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.0.as_deref())
    }

    /// A setting parsed (checked in `resolve`).
    pub fn parse<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    /// Every setting with its value and source, as `mobility config` prints them.
    /// Where a setting's value came from (default, file, environment, flag).
    pub fn source(&self, name: &str) -> &'static str {
        self.values.get(name).map_or("default", |v| v.1.name())
    }

    pub fn describe(&self) -> String {
        let mut out = format!(
            "# mobility settings: defaults < {} < MOBILITY_* < flags\n",
            self.file
                .as_ref()
                .map_or("mobility.toml (none found)".to_string(), |f| f
                    .display()
                    .to_string())
        );
        for k in KEYS {
            let (v, src) = &self.values[k.name];
            match v {
                Some(v) => {
                    let shown = if v.parse::<f64>().is_ok() {
                        v.clone()
                    } else {
                        format!("\"{}\"", v.replace('"', "\\\""))
                    };
                    // The memory limit also in bytes, as this machine resolves it.
                    let resolved = match k.name {
                        "memory_limit" => mobility_sql::parse_size(
                            v,
                            mobility_sql::machine_memory().unwrap_or(8 << 30),
                        )
                        .map(|b| format!(" (= {:.2} GiB here)", b as f64 / (1u64 << 30) as f64))
                        .unwrap_or_default(),
                        _ => String::new(),
                    };
                    out.push_str(&format!(
                        "{:<15} = {:<24} # {}{resolved}; from {}\n",
                        k.name,
                        shown,
                        k.help,
                        src.name()
                    ));
                }
                None => out.push_str(&format!(
                    "# {:<13} (not set)                 # {}\n",
                    k.name, k.help
                )),
            }
        }
        out
    }
}

/// Checks a scheduler's address, `df://HOST:PORT`, as `--cluster` takes it.
pub fn cluster_url(v: &str) -> Result<(), String> {
    let rest = v
        .strip_prefix("df://")
        .ok_or("expected df://HOST:PORT, e.g. df://127.0.0.1:50050")?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or("expected df://HOST:PORT with a port, e.g. df://127.0.0.1:50050")?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err("expected df://HOST:PORT, e.g. df://127.0.0.1:50050".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_default_file_env_flag() {
        let dir = std::env::temp_dir().join(format!("mobility-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mobility.toml");
        std::fs::write(&file, "min_n = 30\nmax_cv = 0.25\nlang = \"en\"\n").unwrap();
        // The environment is the process's: use a setting no other test sets.
        // SAFETY: tests of this module do not read the environment concurrently.
        unsafe { std::env::set_var("MOBILITY_MAX_CV", "0.2") };
        let s = Settings::resolve(Some(&file), &[("lang", Some("nb".into()))]).unwrap();
        unsafe { std::env::remove_var("MOBILITY_MAX_CV") };
        assert_eq!(s.get("min_n"), Some("30"), "file over default");
        assert_eq!(s.get("max_cv"), Some("0.2"), "environment over file");
        assert_eq!(s.get("lang"), Some("nb"), "flag over file");
        assert_eq!(s.get("bootstrap"), Some("200"), "default");
        let d = s.describe();
        assert!(
            d.contains("min_n")
                && d.contains("from mobility.toml")
                && d.contains("from environment")
                && d.contains("from flag"),
            "{d}"
        );
        std::fs::write(&file, "min_m = 30\n").unwrap();
        let err = Settings::resolve(Some(&file), &[]).unwrap_err().to_string();
        assert!(err.contains("unknown setting 'min_m'"), "{err}");
        std::fs::write(&file, "max_cv = 3\n").unwrap();
        let err = Settings::resolve(Some(&file), &[]).unwrap_err().to_string();
        assert!(
            err.contains("max_cv = 3 (from mobility.toml) must lie between 0 and 1"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
