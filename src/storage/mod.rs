//! Object storage behind one interface: a local directory (the embedded default) or an
//! S3-compatible bucket (Hetzner, MinIO, AWS), both through `object_store`.

pub mod audit;
pub mod clean;
pub mod objects;
pub mod spool;

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::Context;
use object_store::{ObjectStore, aws::AmazonS3Builder, local::LocalFileSystem, signer::Signer};
use secrecy::ExposeSecret;

use crate::config::{Config, StorageBackend};

/// The configured object store and how to describe it.
#[derive(Clone)]
pub struct Storage {
    /// The store itself.
    pub store: Arc<dyn ObjectStore>,
    /// Which backend this is.
    pub backend: StorageBackend,
    /// A human-readable location (`local:./data`, `s3:https://host/bucket`).
    pub location: String,
    /// The directory of the local backend (symlinks resolved); `None` for S3.
    pub local_root: Option<std::path::PathBuf>,
    /// Signs URLs that reach an object directly (S3 only; a local directory has no URL).
    signer: Option<Arc<dyn Signer>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").field("backend", &self.backend).field("location", &self.location).finish()
    }
}

impl Storage {
    /// Opens the configured backend (creating the local directory when needed).
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        match config.storage_backend() {
            StorageBackend::Local => {
                std::fs::create_dir_all(&config.storage.storage_dir)
                    .with_context(|| format!("creating storage directory {}", config.storage.storage_dir.display()))?;
                let store = LocalFileSystem::new_with_prefix(&config.storage.storage_dir)?;
                Ok(Self {
                    store: Arc::new(store),
                    backend: StorageBackend::Local,
                    location: format!("local:{}", config.storage.storage_dir.display()),
                    local_root: Some(config.storage.storage_dir.canonicalize().with_context(|| {
                        format!("resolving storage directory {}", config.storage.storage_dir.display())
                    })?),
                    signer: None,
                })
            }
            StorageBackend::S3 => {
                let endpoint = s3_endpoint(config).context("HZ_OBJ_ENDPOINT is required for S3 storage")?;
                let store = AmazonS3Builder::new()
                    .with_endpoint(&endpoint)
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_bucket_name(&config.storage.hz_obj_bucket_name)
                    .with_access_key_id(
                        config.storage.hz_obj_access_key.as_ref().map(|k| k.expose_secret()).unwrap_or_default(),
                    )
                    .with_secret_access_key(
                        config.storage.hz_obj_secret_key.as_ref().map(|k| k.expose_secret()).unwrap_or_default(),
                    )
                    .with_region(&config.storage.hz_obj_region)
                    .with_virtual_hosted_style_request(false)
                    .build()?;
                let store = Arc::new(store);
                Ok(Self {
                    store: store.clone(),
                    backend: StorageBackend::S3,
                    location: format!("s3:{endpoint}/{}", config.storage.hz_obj_bucket_name),
                    local_root: None,
                    signer: Some(store),
                })
            }
        }
    }

    /// Checks that the store takes writes: stores and deletes a small probe object under
    /// [`objects::HEALTH_PREFIX`], so a full disk or a read-only bucket fails the check, not only
    /// an unreachable one.
    pub async fn check(&self) -> anyhow::Result<()> {
        let key = objects::health_probe_key(uuid::Uuid::new_v4());
        self.put_bytes(&key, bytes::Bytes::from_static(b"ok"), Some("text/plain")).await.context("write probe")?;
        self.delete(&key).await.context("deleting the write probe")
    }
}

impl Storage {
    /// A URL that lets whoever holds it `GET` the object at `key` straight from the bucket until
    /// `ttl` has passed (an S3 presigned URL, signed locally: no request is made). `None` when the
    /// backend has no URLs (local directory).
    pub async fn presigned_get(&self, key: &str, ttl: Duration) -> anyhow::Result<Option<String>> {
        let Some(signer) = &self.signer else { return Ok(None) };
        let url = signer
            .signed_url(reqwest::Method::GET, &object_store::path::Path::from(key), ttl)
            .await
            .with_context(|| format!("signing a download URL for {key}"))?;
        Ok(Some(url.into()))
    }
}

/// Bytes an unprivileged process can still write on the file system holding `dir`.
pub fn free_space(dir: &Path) -> std::io::Result<u64> {
    fs4::available_space(dir)
}

/// The S3 endpoint with a scheme: as configured when it has one, else from `HZ_OBJ_USE_SSL`.
pub fn s3_endpoint(config: &Config) -> Option<String> {
    let raw = config.storage.hz_obj_endpoint.as_deref()?.trim().trim_end_matches('/');
    if raw.starts_with("http://") || raw.starts_with("https://") {
        return Some(raw.to_owned());
    }
    let ssl = matches!(config.storage.hz_obj_use_ssl.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes");
    Some(format!("{}://{raw}", if ssl { "https" } else { "http" }))
}
