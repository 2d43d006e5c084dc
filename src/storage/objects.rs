//! Reading and writing record objects: keys, streamed puts from a spooled file, ranged gets,
//! deletes, and the URL a record's file is reached at.

use std::path::Path as FsPath;

use anyhow::Context;
use bytes::Bytes;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, GetResult, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    WriteMultipart, path::Path,
};
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use super::Storage;
use crate::{
    config::{Config, StorageBackend},
    domain::MediaType,
};

/// Part size of multipart puts: above S3's 5 MiB minimum, small enough to keep memory flat.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploaded concurrently by one put.
const PUT_CONCURRENCY: usize = 2;

/// The key of a record's object: `<media_type>/<record uid><ext>` (ext with its dot, may be empty).
pub fn record_key(media_type: MediaType, uid: Uuid, ext: &str) -> String {
    format!("{}/{uid}{ext}", media_type.as_str())
}

/// The key of one chunk of a resumable upload.
pub fn chunk_key(upload_uuid: Uuid, index: i32) -> String {
    format!("{}{index}", chunk_prefix(upload_uuid))
}

/// The key prefix of every chunk of a resumable upload.
pub fn chunk_prefix(upload_uuid: Uuid) -> String {
    format!("{UPLOADS_PREFIX}/{upload_uuid}/")
}

/// Top-level key prefixes of record objects (one per media type); see [`record_key`].
pub const RECORD_PREFIXES: [&str; 5] = ["text", "audio", "video", "image", "document"];

/// Top-level key prefix of the chunks of resumable uploads; see [`chunk_key`].
pub const UPLOADS_PREFIX: &str = "uploads";

/// Top-level key prefix of the readiness check's write probes; see [`health_probe_key`].
pub const HEALTH_PREFIX: &str = "health";

/// Top-level key prefix of user data exports: `exports/<job id>/<file>`, private (served only
/// through `GET /tasks/exports/{task_id}/download`) and removed once the job's retention ends.
pub const EXPORTS_PREFIX: &str = "exports";

/// The key of file `name` of export job `job`.
pub fn export_key(job: Uuid, name: &str) -> String {
    format!("{EXPORTS_PREFIX}/{job}/{name}")
}

/// The export job an `exports/<job id>/...` key belongs to.
pub fn export_job_of(key: &str) -> Option<Uuid> {
    let rest = key.strip_prefix(EXPORTS_PREFIX)?.strip_prefix('/')?;
    Uuid::parse_str(rest.split('/').next()?).ok()
}

/// The key of one write probe of the readiness check.
pub fn health_probe_key(id: Uuid) -> String {
    format!("{HEALTH_PREFIX}/{id}")
}

/// The URL a record's file is reached at: the public object URL when `STORAGE_PUBLIC_BASE_URL`
/// is set, otherwise this API's streaming endpoint (absolute when `PUBLIC_API_BASE_URL` is set).
pub fn file_url(config: &Config, key: &str, uid: Uuid) -> String {
    match config.storage.storage_public_base_url.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(base) => format!("{}/{key}", base.trim_end_matches('/')),
        None => {
            let base = config.storage.public_api_base_url.as_deref().unwrap_or("").trim().trim_end_matches('/');
            format!("{base}/api/v1/records/{uid}/file")
        }
    }
}

impl Storage {
    fn attributes(&self, content_type: Option<&str>) -> Attributes {
        let mut attributes = Attributes::new();
        // The local backend stores no attributes (and refuses them).
        if self.backend == StorageBackend::S3
            && let Some(ct) = content_type
        {
            attributes.insert(Attribute::ContentType, ct.to_owned().into());
        }
        attributes
    }

    /// Stores small in-memory bytes under `key`.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes, content_type: Option<&str>) -> anyhow::Result<()> {
        let opts = PutOptions { attributes: self.attributes(content_type), ..Default::default() };
        self.store
            .put_opts(&Path::from(key), PutPayload::from(bytes), opts)
            .await
            .with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    /// Stores the file at `path` as `key`. Local storage: the kernel copies it into a temporary
    /// file beside the object, which is synced and renamed into place (no bytes pass through
    /// this process's memory, and a reader never sees half an object). S3: one put when small, a
    /// multipart put otherwise, so memory use stays bounded whatever the size; a failed multipart
    /// put is aborted.
    pub async fn put_file(&self, key: &str, path: &FsPath, content_type: Option<&str>) -> anyhow::Result<()> {
        if let Some(dest) = self.local_path(key) {
            return copy_local(path, dest).await.with_context(|| format!("storing {key}"));
        }
        let mut file = tokio::fs::File::open(path).await.context("opening the spooled upload")?;
        let size = file.metadata().await?.len();
        if size <= PART_SIZE as u64 {
            let mut buf = Vec::with_capacity(size as usize);
            file.read_to_end(&mut buf).await?;
            return self.put_bytes(key, Bytes::from(buf), content_type).await;
        }
        let opts = PutMultipartOptions { attributes: self.attributes(content_type), ..Default::default() };
        let upload = self
            .store
            .put_multipart_opts(&Path::from(key), opts)
            .await
            .with_context(|| format!("starting the upload of {key}"))?;
        let writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        copy_into_multipart(&mut file, writer, PUT_CONCURRENCY, |_| {})
            .await
            .with_context(|| format!("storing the spooled upload as {key}"))?;
        Ok(())
    }

    /// Reads `key`, whole or a byte range.
    pub async fn get(&self, key: &str, range: Option<GetRange>) -> object_store::Result<GetResult> {
        self.store.get_opts(&Path::from(key), GetOptions { range, ..Default::default() }).await
    }

    /// The size of the object at `key`.
    pub async fn size(&self, key: &str) -> object_store::Result<u64> {
        Ok(self.store.head(&Path::from(key)).await?.size)
    }

    /// Deletes `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting {key}")),
        }
    }

    /// Deletes `key`, logging (not returning) a failure: used on paths that are already failing
    /// or where the caller's work is done and a leftover is only an orphan for `storage` cleanup.
    pub async fn delete_quietly(&self, key: &str) {
        if let Err(e) = self.delete(key).await {
            tracing::warn!(error = %format!("{e:#}"), key, "could not delete a stored object");
        }
    }

    /// Deletes every object under `prefix`.
    pub async fn delete_prefix(&self, prefix: &str) -> anyhow::Result<()> {
        use futures::TryStreamExt;
        let prefix = Path::from(prefix);
        let objects: Vec<_> = self.store.list(Some(&prefix)).try_collect().await.context("listing objects")?;
        for object in objects {
            self.delete(object.location.as_ref()).await?;
        }
        Ok(())
    }
}

impl Storage {
    /// Where local storage keeps `key`, for keys made only of the characters the service's keys
    /// use (which the object store maps to the same path); `None` with S3 or any other key.
    fn local_path(&self, key: &str) -> Option<std::path::PathBuf> {
        let root = self.local_root.as_ref()?;
        let plain = key.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
        plain.then(|| root.join(key))
    }
}

/// Copies `source` to `dest` through a synced temporary file in `dest`'s directory, renamed into
/// place; the temporary file is removed on failure.
async fn copy_local(source: &FsPath, dest: std::path::PathBuf) -> std::io::Result<()> {
    let source = source.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let dir = dest.parent().expect("an object path has a directory");
        std::fs::create_dir_all(dir)?;
        let name = dest.file_name().expect("an object path has a name").to_string_lossy();
        let tmp = dir.join(format!(".{name}.partial-{}", Uuid::new_v4().simple()));
        // `fs::copy` lets the kernel move the bytes (copy_file_range), never through a buffer here.
        let copied = std::fs::copy(&source, &tmp)
            .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &dest));
        if copied.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        copied
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Copies the rest of `file` into a multipart upload in 1 MiB reads, with at most `concurrency`
/// parts in flight, calling `seen` with every piece (to hash or count it), then completes the
/// upload. On any failure the upload is aborted, so no partial object appears. Returns the bytes
/// copied.
pub(crate) async fn copy_into_multipart(
    file: &mut tokio::fs::File,
    mut writer: WriteMultipart,
    concurrency: usize,
    mut seen: impl FnMut(&[u8]),
) -> anyhow::Result<u64> {
    let mut buf = vec![0u8; 1024 * 1024];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e).context("reading the file");
            }
        };
        if let Err(e) = writer.wait_for_capacity(concurrency).await {
            let _ = writer.abort().await;
            return Err(e).context("storing a part");
        }
        seen(&buf[..n]);
        writer.write(&buf[..n]);
        size += n as u64;
    }
    writer.finish().await.context("completing the object")?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_urls() {
        let uid = Uuid::nil();
        assert_eq!(record_key(MediaType::Audio, uid, ".mp3"), format!("audio/{uid}.mp3"));
        let mut config = Config::from_args(["--storage-backend", "local"]).unwrap();
        assert_eq!(file_url(&config, "audio/x.mp3", uid), format!("/api/v1/records/{uid}/file"));
        config.storage.public_api_base_url = Some("https://api.example.org/".into());
        assert_eq!(file_url(&config, "audio/x.mp3", uid), format!("https://api.example.org/api/v1/records/{uid}/file"));
        config.storage.storage_public_base_url = Some("https://cdn.example.org/bucket/".into());
        assert_eq!(file_url(&config, "audio/x.mp3", uid), "https://cdn.example.org/bucket/audio/x.mp3");
    }
}
