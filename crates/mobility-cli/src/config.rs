//! The settings of `mobility run` and `mobility sql`, resolved with the precedence
//! defaults < `mobility.toml` < `MOBILITY_*` environment variables < flags, and parsed once into
//! their own types ([`Settings`]).
//!
//! `mobility.toml` is read from `--config <file>`, else from `MOBILITY_CONFIG`, else from
//! `./mobility.toml` when it exists. `mobility config` prints every setting with the value it
//! resolved to and where that came from.
//!
//! Each setting has one default: the text in its [`Key`] of [`KEYS`], parsed like a value from
//! the file, the environment or a flag. To add a setting: a [`Key`] in [`KEYS`], a field of
//! [`Settings`] parsed in `Settings::parse`, the field in `Settings::origins` (in the order of
//! [`KEYS`]), and a flag that passes its value to [`Settings::resolve`] under the key's name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mobility_indicators::run::CsvDialect;
use mobility_indicators::traffic::IndexMethod;
use mobility_report::Lang;
use mobility_stats::calendar::Calendar;

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env,
    Flag,
}

impl Source {
    /// The name `mobility config` and the error messages give it.
    pub fn name(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "mobility.toml",
            Source::Env => "environment",
            Source::Flag => "flag",
        }
    }
}

/// One setting: its name (as in mobility.toml; the variable is MOBILITY_<NAME>), its help,
/// and its default, written as a user would write the value (`None`: not set).
#[derive(Debug)]
pub struct Key {
    name: &'static str,
    help: &'static str,
    default: Option<&'static str>,
}

/// Every setting, in the order `mobility config` lists them; the one place of each default.
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

/// How a setting was given: its key, the text it resolved to (as `mobility config` shows it;
/// `None`: not set) and where that came from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub key: &'static Key,
    pub text: Option<String>,
    pub source: Source,
}

/// A resolved setting: its value, parsed into its own type, and how it was given.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Setting<T> {
    /// Where the value came from: default, mobility.toml, environment or flag.
    pub fn source(&self) -> &'static str {
        self.origin.source.name()
    }

    /// The text the value was given as (the default's when none was); `None`: not set.
    pub fn text(&self) -> Option<&str> {
        self.origin.text.as_deref()
    }

    /// The same setting with its value mapped.
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Setting<U> {
        Setting {
            value: f(self.value),
            origin: self.origin,
        }
    }
}

/// How the SEs of the survey indicators are computed (`variance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variance {
    /// `default`: linearisation, Woodruff for the median.
    Linearisation,
    /// `bootstrap`: every one by the Rao–Wu bootstrap with `bootstrap` replicates.
    Bootstrap,
}

/// The resolved settings, each parsed once into its own type; `mobility config` lists them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// The data directory.
    pub data: Setting<PathBuf>,
    /// The output directory of `run`.
    pub out: Setting<PathBuf>,
    /// A targets file (TOML); `None`: Bærum's built-in targets.
    pub targets: Setting<Option<PathBuf>>,
    /// Factor CSV files or a folder of them; `None`: the data directory's.
    pub factors: Setting<Option<PathBuf>>,
    /// Confidence level of the intervals, in (0, 1].
    pub ci_level: Setting<f64>,
    /// Cells with fewer persons are suppressed.
    pub min_n: Setting<u64>,
    /// Cells with a larger coefficient of variation are suppressed; in [0, 1].
    pub max_cv: Setting<f64>,
    /// Rao–Wu bootstrap replicates.
    pub bootstrap: Setting<u32>,
    /// Seed of the bootstrap.
    pub seed: Setting<u64>,
    /// Reference year of the rolling traffic index; `None`: the first year with ten months.
    pub reference_year: Setting<Option<i64>>,
    /// Bytes the queries and the estimation may hold, as this machine resolves the text
    /// (`75%`, `2GiB`).
    pub memory_limit: Setting<u64>,
    /// How the SEs of the survey indicators are computed.
    pub variance: Setting<Variance>,
    /// Norway's public holidays and the kommune's own (`holidays`; Norway's only when not set).
    pub holidays: Setting<Calendar>,
    /// Method of the traffic indices.
    pub index_method: Setting<IndexMethod>,
    /// Zone kind of the origin–destination indicators; `None`: the trips' own zone ids.
    pub od_zone_kind: Setting<Option<String>>,
    /// Periods of `od_trips_by_period`, `name=FROM-TO,…` (checked; the run parses it).
    pub od_periods: Setting<String>,
    /// Language of report.html.
    pub lang: Setting<Lang>,
    /// CSV flavour of the indicator files.
    pub csv_dialect: Setting<CsvDialect>,
    /// A Ballista scheduler, `df://HOST:PORT` (checked); `None`: in this process.
    pub cluster: Setting<Option<String>>,
    /// Seconds a query of `run` may go without a result (0: no limit).
    pub query_timeout: Setting<u64>,
    /// With replicate weights, c of c·Σ(θr − θ)²: `jk1`, `bootstrap` or a number (checked by
    /// the run).
    pub replicate_scale: Setting<String>,
}

impl Settings {
    /// Resolves the settings: defaults, then the file, then the environment, then `flags`
    /// (name → value given on the command line, as text), and parses each.
    pub fn resolve(
        config: Option<&Path>,
        flags: &[(&'static str, Option<String>)],
    ) -> anyhow::Result<Self> {
        let file = match config {
            Some(p) => Some(p.to_path_buf()),
            None => match std::env::var_os("MOBILITY_CONFIG") {
                Some(p) => Some(PathBuf::from(p)),
                None => Some(PathBuf::from("mobility.toml")).filter(|p| p.is_file()),
            },
        };
        let mut layers = Layers::defaults();
        if let Some(path) = &file {
            layers.read_file(path)?;
        }
        layers.read_env();
        for (name, v) in flags {
            if let Some(v) = v {
                layers.set(name, v.clone(), Source::Flag);
            }
        }
        Self::parse(file, &layers)
    }

    /// Parses every setting's text; a bad value is an error naming the setting, the value, its
    /// source and what was expected.
    fn parse(file: Option<PathBuf>, l: &Layers) -> anyhow::Result<Self> {
        let path = |v: &str| Ok(PathBuf::from(v));
        let text = |v: &str| Ok(v.to_string());
        // Checked in this order: the first bad value is the one reported.
        Ok(Self {
            ci_level: l.required("ci_level", |v| share(v, false))?,
            max_cv: l.required("max_cv", |v| share(v, true))?,
            min_n: l.required("min_n", whole::<u64>)?,
            bootstrap: l.required("bootstrap", whole::<u32>)?,
            seed: l.required("seed", whole::<u64>)?,
            query_timeout: l.required("query_timeout", whole::<u64>)?,
            reference_year: l.optional("reference_year", |v| {
                v.parse::<i64>()
                    .map_err(|e| Why::NotA("is not a year", e.to_string()))
            })?,
            cluster: l.optional("cluster", |v| {
                cluster_url(v).map(|()| v.to_string()).map_err(Why::Because)
            })?,
            od_periods: l.required("od_periods", |v| {
                mobility_indicators::run::parse_od_periods(v)
                    .map(|_| v.to_string())
                    .map_err(Why::Because)
            })?,
            memory_limit: l.required("memory_limit", |v| {
                mobility_sql::parse_size(v, machine_memory()).map_err(Why::Says)
            })?,
            variance: l.required("variance", |v| match v {
                "default" => Ok(Variance::Linearisation),
                "bootstrap" => Ok(Variance::Bootstrap),
                _ => Err(Why::MustBe("default or bootstrap")),
            })?,
            holidays: l
                .optional("holidays", |v| Calendar::parse_extra(v).map_err(Why::Says))?
                .map(|c| c.unwrap_or_default()),
            index_method: l.required("index_method", |v| {
                IndexMethod::parse(v).ok_or(Why::MustBe("classic or calendar"))
            })?,
            lang: l.required("lang", |v| match v {
                "nb" => Ok(Lang::Nb),
                "en" => Ok(Lang::En),
                _ => Err(Why::MustBe("nb or en")),
            })?,
            csv_dialect: l.required("csv_dialect", |v| match v {
                "utf8" => Ok(CsvDialect::Utf8),
                "excel-nb" => Ok(CsvDialect::ExcelNb),
                _ => Err(Why::MustBe("utf8 or excel-nb")),
            })?,
            data: l.required("data", path)?,
            out: l.required("out", path)?,
            targets: l.optional("targets", path)?,
            factors: l.optional("factors", path)?,
            od_zone_kind: l.optional("od_zone_kind", text)?,
            replicate_scale: l.required("replicate_scale", text)?,
            file,
        })
    }

    /// Every setting's origin, in the order of [`KEYS`].
    fn origins(&self) -> [&Origin; KEYS.len()] {
        [
            &self.data.origin,
            &self.out.origin,
            &self.targets.origin,
            &self.factors.origin,
            &self.ci_level.origin,
            &self.min_n.origin,
            &self.max_cv.origin,
            &self.bootstrap.origin,
            &self.seed.origin,
            &self.reference_year.origin,
            &self.memory_limit.origin,
            &self.variance.origin,
            &self.holidays.origin,
            &self.index_method.origin,
            &self.od_zone_kind.origin,
            &self.od_periods.origin,
            &self.lang.origin,
            &self.csv_dialect.origin,
            &self.cluster.origin,
            &self.query_timeout.origin,
            &self.replicate_scale.origin,
        ]
    }

    /// Every setting with its value and source, as `mobility config` prints them.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "# mobility settings: defaults < {} < MOBILITY_* < flags\n",
            self.file
                .as_ref()
                .map_or("mobility.toml (none found)".to_string(), |f| f
                    .display()
                    .to_string())
        );
        for o in self.origins() {
            let Some(v) = &o.text else {
                out.push_str(&format!(
                    "# {:<13} (not set)                 # {}\n",
                    o.key.name, o.key.help
                ));
                continue;
            };
            let shown = if v.parse::<f64>().is_ok() {
                v.clone()
            } else {
                format!("\"{}\"", v.replace('"', "\\\""))
            };
            // The memory limit also in bytes, as this machine resolves it.
            let resolved = if std::ptr::eq(o, &self.memory_limit.origin) {
                let gib = self.memory_limit.value as f64 / (1u64 << 30) as f64;
                format!(" (= {gib:.2} GiB here)")
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{:<15} = {:<24} # {}{resolved}; from {}\n",
                o.key.name,
                shown,
                o.key.help,
                o.source.name()
            ));
        }
        out
    }
}

/// The machine's memory, which a share such as `75%` of `memory_limit` is of: 8 GiB where it
/// cannot be read.
pub fn machine_memory() -> u64 {
    mobility_sql::machine_memory().unwrap_or(8 << 30)
}

/// The text of every setting after the layers (defaults, file, environment, flags), before
/// parsing: name → origin.
struct Layers(BTreeMap<&'static str, Origin>);

impl Layers {
    /// Every setting at its default.
    fn defaults() -> Self {
        Self(
            KEYS.iter()
                .map(|k| {
                    let origin = Origin {
                        key: k,
                        text: k.default.map(str::to_string),
                        source: Source::Default,
                    };
                    (k.name, origin)
                })
                .collect(),
        )
    }

    /// Sets the setting `name` (one of [`KEYS`]) to `text` from `source`.
    fn set(&mut self, name: &str, text: String, source: Source) {
        let origin = self
            .0
            .get_mut(name)
            .expect("the file's names are checked; the environment's and the flags' are keys");
        origin.text = Some(text);
        origin.source = source;
    }

    /// The settings of `mobility.toml` (or the `--config` file) over the defaults.
    fn read_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
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
            self.set(key.name, v, Source::File);
        }
        Ok(())
    }

    /// The `MOBILITY_<NAME>` environment variables over the file.
    fn read_env(&mut self) {
        for k in KEYS {
            if let Ok(v) = std::env::var(format!("MOBILITY_{}", k.name.to_uppercase())) {
                self.set(k.name, v, Source::Env);
            }
        }
    }

    /// The setting `name` parsed by `parse`; `None` when it is not set (it has no default). A
    /// value `parse` refuses is an error naming the setting, the value and where it came from.
    fn optional<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Why>,
    ) -> anyhow::Result<Setting<Option<T>>> {
        let origin = self.0[name].clone();
        let value = match &origin.text {
            Some(v) => Some(parse(v.as_str()).map_err(|why| why.error(name, v, origin.source))?),
            None => None,
        };
        Ok(Setting { value, origin })
    }

    /// [`Self::optional`] for a setting with a default, which is always set.
    fn required<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Why>,
    ) -> anyhow::Result<Setting<T>> {
        Ok(self
            .optional(name, parse)?
            .map(|v| v.expect("a setting with a default is always set")))
    }
}

/// Why a value was refused: the error names the setting, the value and its source around it.
enum Why {
    /// `name = 'value' (from source) <what>: <cause>`, e.g. "is not a number" and the
    /// parser's error.
    NotA(&'static str, String),
    /// `name = value (from source) must lie between 0 and 1`.
    NotAShare,
    /// `name = 'value' (from source) must be <what>`.
    MustBe(&'static str),
    /// `name = 'value' (from source): <why>`.
    Because(String),
    /// `name (from source): <why>`, where the reason names the value itself.
    Says(String),
}

impl Why {
    /// The error for `name = value` from `source`.
    fn error(self, name: &str, value: &str, source: Source) -> anyhow::Error {
        let from = source.name();
        match self {
            Why::NotA(what, cause) => anyhow::Error::msg(cause)
                .context(format!("{name} = '{value}' (from {from}) {what}")),
            Why::NotAShare => {
                anyhow::anyhow!("{name} = {value} (from {from}) must lie between 0 and 1")
            }
            Why::MustBe(what) => anyhow::anyhow!("{name} = '{value}' (from {from}) must be {what}"),
            Why::Because(why) => anyhow::anyhow!("{name} = '{value}' (from {from}): {why}"),
            Why::Says(why) => anyhow::anyhow!("{name} (from {from}): {why}"),
        }
    }
}

/// A share from 0 to 1; 0 itself only when `zero` (a confidence level of 0 is none).
fn share(v: &str, zero: bool) -> Result<f64, Why> {
    let x: f64 = v
        .parse()
        .map_err(|e: std::num::ParseFloatError| Why::NotA("is not a number", e.to_string()))?;
    if !(0.0..=1.0).contains(&x) || (!zero && x == 0.0) {
        return Err(Why::NotAShare);
    }
    Ok(x)
}

/// A whole number that fits `T`.
fn whole<T>(v: &str) -> Result<T, Why>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    v.parse::<T>()
        .map_err(|e| Why::NotA("is not a whole number", e.to_string()))
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
        assert_eq!(s.min_n.value, 30, "file over default");
        assert_eq!(s.min_n.source(), "mobility.toml");
        assert_eq!(s.max_cv.value, 0.2, "environment over file");
        assert_eq!(s.max_cv.text(), Some("0.2"));
        assert_eq!(s.lang.value, Lang::Nb, "flag over file");
        assert_eq!(s.lang.source(), "flag");
        assert_eq!(s.bootstrap.value, 200, "default");
        assert_eq!(s.bootstrap.source(), "default");
        assert_eq!(s.targets.value, None, "no default");
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

    /// The library's own defaults (`RunOptions::new`, `Rules::default`, the default OD
    /// periods) are the settings' defaults: a caller of the library and a user of the binary
    /// get the same run, and changing a default in one place without the other fails here.
    #[test]
    fn the_librarys_defaults_are_the_settings_defaults() {
        let s = Settings::parse(None, &Layers::defaults()).unwrap();
        let o = mobility_indicators::run::RunOptions::new("d", "o");
        assert_eq!(o.rules.level, s.ci_level.value);
        assert_eq!(o.rules.min_n, s.min_n.value);
        assert_eq!(o.rules.max_cv, s.max_cv.value);
        assert_eq!(o.bootstrap, s.bootstrap.value);
        assert_eq!(o.seed, s.seed.value);
        assert_eq!(o.bootstrap_all, s.variance.value == Variance::Bootstrap);
        assert_eq!(o.reference_year, s.reference_year.value);
        assert_eq!(o.index_method, s.index_method.value);
        assert_eq!(o.lang, s.lang.value);
        assert_eq!(o.csv, s.csv_dialect.value);
        assert_eq!(o.replicate_scale, s.replicate_scale.value);
        assert_eq!(o.query_timeout, s.query_timeout.value);
        assert_eq!(o.calendar, s.holidays.value);
        assert_eq!(o.od_zone_kind, s.od_zone_kind.value);
        let periods = mobility_indicators::run::parse_od_periods(&s.od_periods.value).unwrap();
        let library: Vec<(String, u32, u32)> = mobility_sql::DEFAULT_OD_PERIODS
            .iter()
            .map(|&(name, from, to)| (name.to_string(), from, to))
            .collect();
        assert_eq!(periods, library);
    }

    /// Every default parses, and each typed setting is listed once, in the order of `KEYS`.
    #[test]
    fn the_defaults_parse_and_every_key_is_a_field() {
        let s = Settings::parse(None, &Layers::defaults()).unwrap();
        let listed: Vec<&str> = s.origins().iter().map(|o| o.key.name).collect();
        let keys: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        assert_eq!(listed, keys);
        assert_eq!(s.data.value, PathBuf::from("data/sample"));
        assert_eq!(s.variance.value, Variance::Linearisation);
        assert_eq!(s.index_method.value, IndexMethod::Classic);
        assert_eq!(s.csv_dialect.value, CsvDialect::Utf8);
        assert_eq!(s.holidays.value, Calendar::default());
        assert!(s.memory_limit.value > 0);
    }

    /// A bad value names the setting, the value, its source and what was expected, with the
    /// parser's reason.
    #[test]
    fn bad_values_name_their_source() {
        let err = |name: &'static str, value: &str| {
            let mut l = Layers::defaults();
            l.set(name, value.to_string(), Source::Env);
            format!("{:#}", Settings::parse(None, &l).unwrap_err())
        };
        assert_eq!(
            err("ci_level", "high"),
            "ci_level = 'high' (from environment) is not a number: invalid float literal"
        );
        assert_eq!(
            err("ci_level", "0"),
            "ci_level = 0 (from environment) must lie between 0 and 1"
        );
        assert!(
            err("bootstrap", "-1")
                .starts_with("bootstrap = '-1' (from environment) is not a whole number: ")
        );
        assert_eq!(
            err("lang", "no"),
            "lang = 'no' (from environment) must be nb or en"
        );
        assert!(err("memory_limit", "lots").starts_with("memory_limit (from environment): "));
        assert!(
            err("cluster", "localhost:50050")
                .starts_with("cluster = 'localhost:50050' (from environment): expected df://")
        );
    }
}
