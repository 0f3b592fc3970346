//! Data directories on S3-compatible object storage: `--data s3://bucket/prefix`.
//!
//! The layout is the local one (docs/cluster.md): `_current` names each table's committed
//! generation, `<table>/g<commit>/*.parquet` holds it. Credentials, region and endpoint come
//! from the usual `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL` for a store other than AWS; an `http://` endpoint is
//! allowed without `AWS_ALLOW_HTTP`).
//!
//! Readers (`run`, `sql`, a cluster) read `_current` once and then the generations it names,
//! which a writer never changes. A writer (`mobility ingest --out s3://…`) copies the
//! committed data directory into a local folder, ingests there as usual, uploads the new
//! generation folders and the rejects, and commits by writing `_current` last (one PUT, which
//! S3 makes visible whole). Two writers at once are not kept apart: ingest from one machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use futures::TryStreamExt;
use mobility_model::Table;
use mobility_model::layout::{self, Snapshot};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

/// A data directory in an S3 bucket.
#[derive(Debug, Clone)]
pub struct Remote {
    /// `s3://bucket/prefix`, without a trailing `/`.
    pub url: String,
    /// `s3://bucket`, the URL the store is registered under.
    pub bucket_url: url::Url,
    /// The prefix inside the bucket.
    pub prefix: StorePath,
    pub store: Arc<dyn ObjectStore>,
}

fn err(what: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(what.to_string())
}

impl Remote {
    /// `Some` for a data directory written `s3://bucket/prefix`; an error when the store cannot
    /// be set up from the environment.
    pub fn of(data: &Path) -> Result<Option<Self>> {
        let Some(text) = data.to_str().filter(|t| t.starts_with("s3://")) else {
            return Ok(None);
        };
        let url = text.trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&url).map_err(|e| err(format!("{url}: {e}")))?;
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| err(format!("{url}: expected s3://bucket/prefix")))?;
        let bucket_url = url::Url::parse(&format!("s3://{bucket}")).expect("a bucket URL parses");
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if std::env::var("AWS_ENDPOINT_URL")
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .is_ok_and(|e| e.starts_with("http://"))
        {
            builder = builder.with_allow_http(true);
        }
        let store = builder.build().map_err(|e| {
            err(format!(
                "{url}: the S3 store cannot be set up from the AWS_* environment: {e}"
            ))
        })?;
        Ok(Some(Self {
            url,
            bucket_url,
            prefix: StorePath::from(parsed.path().trim_matches('/')),
            store: Arc::new(store),
        }))
    }

    fn key(&self, relative: &str) -> StorePath {
        let p = self.prefix.as_ref();
        if p.is_empty() {
            StorePath::from(relative)
        } else {
            StorePath::from(format!("{p}/{relative}"))
        }
    }

    /// The committed snapshot: one read of `_current`.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let key = self.key(layout::POINTER);
        let bytes = match self.store.get(&key).await {
            Ok(r) => r
                .bytes()
                .await
                .map_err(|e| err(format!("{}/{}: {e}", self.url, layout::POINTER)))?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(err(format!(
                    "{}/{} does not exist: not a mobility data directory (ingest into it first)",
                    self.url,
                    layout::POINTER
                )));
            }
            Err(e) => return Err(err(format!("{}/{}: {e}", self.url, layout::POINTER))),
        };
        let text = String::from_utf8_lossy(&bytes);
        Snapshot::parse(&text).map_err(|(line, msg)| {
            err(format!(
                "{}/{}, line {line}: {msg}",
                self.url,
                layout::POINTER
            ))
        })
    }

    /// The folder of a table's committed generation, relative to the data directory.
    fn table_relative(snapshot: &Snapshot, table: Table) -> String {
        snapshot
            .table_dir(Path::new(""), table)
            .to_string_lossy()
            .trim_start_matches('/')
            .to_string()
    }

    /// The URL of a table's committed generation (`s3://bucket/prefix/trips/g00000003/`), if
    /// it holds Parquet files.
    pub async fn table_url(&self, snapshot: &Snapshot, table: Table) -> Result<Option<String>> {
        let rel = Self::table_relative(snapshot, table);
        let prefix = self.key(&rel);
        let found = self
            .store
            .list(Some(&prefix))
            .try_filter(|m| futures::future::ready(m.location.as_ref().ends_with(".parquet")))
            .try_next()
            .await
            .map_err(|e| err(format!("{}/{rel}: {e}", self.url)))?;
        Ok(found.map(|_| format!("{}/{rel}/", self.url)))
    }

    /// (path relative to the data directory, bytes, SHA-256) of every Parquet file of the
    /// committed generations of `tables`, for the run's manifest.
    pub async fn checksums(
        &self,
        snapshot: &Snapshot,
        tables: &[Table],
    ) -> Result<Vec<(String, u64, String)>> {
        use sha2::Digest;
        let mut out = Vec::new();
        for t in tables {
            let rel = Self::table_relative(snapshot, *t);
            let mut files: Vec<StorePath> = self
                .store
                .list(Some(&self.key(&rel)))
                .map_ok(|m| m.location)
                .try_filter(|l| futures::future::ready(l.as_ref().ends_with(".parquet")))
                .try_collect()
                .await
                .map_err(|e| err(format!("{}/{rel}: {e}", self.url)))?;
            files.sort();
            for f in files {
                let shown = relative(&self.prefix, &f);
                let bytes = self
                    .store
                    .get(&f)
                    .await
                    .map_err(|e| err(format!("{}/{shown}: {e}", self.url)))?
                    .bytes()
                    .await
                    .map_err(|e| err(format!("{}/{shown}: {e}", self.url)))?;
                let sha = sha2::Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                out.push((shown, bytes.len() as u64, sha));
            }
        }
        Ok(out)
    }

    /// Copies every object of the data directory into `local` (for an ingest). Returns the
    /// objects copied.
    pub async fn download(&self, local: &Path) -> Result<usize> {
        let mut listing = self.store.list(Some(&self.prefix));
        let mut n = 0;
        while let Some(meta) = listing
            .try_next()
            .await
            .map_err(|e| err(format!("listing {}: {e}", self.url)))?
        {
            let rel = relative(&self.prefix, &meta.location);
            let to = local.join(&rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| err(format!("{}: {e}", parent.display())))?;
            }
            let bytes = self
                .store
                .get(&meta.location)
                .await
                .map_err(|e| err(format!("{}/{rel}: {e}", self.url)))?
                .bytes()
                .await
                .map_err(|e| err(format!("{}/{rel}: {e}", self.url)))?;
            std::fs::write(&to, &bytes).map_err(|e| err(format!("{}: {e}", to.display())))?;
            n += 1;
        }
        Ok(n)
    }

    /// Uploads what an ingest into `local` added: the files of generation folders the bucket
    /// does not have, the rejects and reports, then `_current`, last: the commit. Returns the
    /// files uploaded.
    pub async fn upload(&self, local: &Path) -> Result<usize> {
        let mut have = std::collections::HashSet::new();
        let mut listing = self.store.list(Some(&self.prefix));
        while let Some(meta) = listing
            .try_next()
            .await
            .map_err(|e| err(format!("listing {}: {e}", self.url)))?
        {
            have.insert(relative(&self.prefix, &meta.location));
        }
        let mut files = Vec::new();
        walk(local, local, &mut files).map_err(|e| err(format!("{}: {e}", local.display())))?;
        let mut n = 0;
        for rel in files {
            let name = rel.rsplit('/').next().unwrap_or(&rel);
            let skip = [layout::POINTER, layout::LOCK, layout::READERS].contains(&name)
                || rel.split('/').any(|part| part.starts_with('.'))
                // A generation folder is never changed once committed.
                || (in_generation(&rel) && have.contains(&rel));
            if skip {
                continue;
            }
            self.put(local, &rel).await?;
            n += 1;
        }
        if local.join(layout::POINTER).exists() {
            self.put(local, layout::POINTER).await?;
            n += 1;
        }
        Ok(n)
    }

    async fn put(&self, local: &Path, rel: &str) -> Result<()> {
        let from = local.join(rel);
        let bytes = std::fs::read(&from).map_err(|e| err(format!("{}: {e}", from.display())))?;
        self.store
            .put(&self.key(rel), bytes.into())
            .await
            .map_err(|e| err(format!("writing {}/{rel}: {e}", self.url)))?;
        Ok(())
    }
}

/// `location` relative to `prefix`, as a `/`-separated path.
fn relative(prefix: &StorePath, location: &StorePath) -> String {
    let p = prefix.as_ref();
    let l = location.as_ref();
    if p.is_empty() {
        l.to_string()
    } else {
        l.strip_prefix(p)
            .unwrap_or(l)
            .trim_start_matches('/')
            .to_string()
    }
}

/// Whether `rel` lies in a table's generation folder (`<table>/g<commit>/…`).
fn in_generation(rel: &str) -> bool {
    rel.split('/')
        .nth(1)
        .is_some_and(|g| layout::parse_generation_dir(g).is_some())
}

/// Every file under `dir`, relative to `root`, `/`-separated.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p: PathBuf = e?.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root).expect("under root");
            out.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
}
