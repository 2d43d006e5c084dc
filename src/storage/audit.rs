//! Listing, hashing, copying and deleting the service's own objects, for backups, restores and
//! the storage audit (`corpus storage verify|orphans`).
//!
//! Only keys under the service's own top-level prefixes ([`super::clean::owned_prefixes`]) are
//! ever listed or deleted here, so files that share the directory or the bucket are never seen,
//! let alone removed. In a local directory, a key reached through a symlink is never deleted.

use std::path::{Component, Path as FsPath};

use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{GetResultPayload, ObjectStore, PutPayload, WriteMultipart, path::Path};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Storage, clean::owned_prefixes, objects::copy_into_multipart};

/// Read and write buffer size of copies.
const BUFFER: usize = 1024 * 1024;
/// Part size of multipart puts made by [`Storage::put_file_hashed`].
const PART_SIZE: usize = 8 * 1024 * 1024;

/// One stored object, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
}

/// What [`Storage::list_owned`] found.
#[derive(Debug, Default)]
pub struct Listing {
    /// The objects, ordered by key.
    pub objects: Vec<Listed>,
    /// Entries that could not be listed (a name that is no valid key, a file that vanished), with
    /// why; they are reported, never touched.
    pub unreadable: Vec<String>,
}

/// True when `key` is a plain relative key under one of the service's own prefixes: no empty,
/// `.` or `..` segment, no backslash, no leading slash.
pub fn is_owned_key(key: &str) -> bool {
    let Some((top, rest)) = key.split_once('/') else { return false };
    if rest.is_empty() || !owned_prefixes().any(|p| p == top) || key.contains('\\') {
        return false;
    }
    key.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// The SHA-256 and size of the bytes a reader yields, as lowercase hex.
pub async fn hash_reader(mut reader: impl tokio::io::AsyncRead + Unpin) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

impl Storage {
    /// The bytes of the object at `key` as a stream. A local file is read in large chunks
    /// (object_store's own stream of a file reads 8 KiB at a time, a third of the speed).
    async fn read_stream(&self, key: &str) -> object_store::Result<BoxStream<'static, object_store::Result<Bytes>>> {
        Ok(self.read_stream_sized(key).await?.1)
    }

    /// Like `read_stream`, with the object's size as the store reports it before a byte is read.
    pub(crate) async fn read_stream_sized(
        &self,
        key: &str,
    ) -> object_store::Result<(u64, BoxStream<'static, object_store::Result<Bytes>>)> {
        let result = self.get(key, None).await?;
        let size = result.meta.size;
        match result.payload {
            GetResultPayload::File(mut file, _) => {
                use std::io::Seek;
                let range = result.range;
                let local = |source: std::io::Error| object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(source),
                };
                file.seek(std::io::SeekFrom::Start(range.start)).map_err(local)?;
                let reader = tokio::fs::File::from_std(file).take(range.end - range.start);
                Ok((size, tokio_util::io::ReaderStream::with_capacity(reader, BUFFER).map_err(local).boxed()))
            }
            GetResultPayload::Stream(stream) => Ok((size, stream)),
        }
    }

    /// Lists every object under the service's own prefixes. Entries that cannot be listed are
    /// collected in [`Listing::unreadable`]; a failure of the store itself is an error.
    pub async fn list_owned(&self) -> anyhow::Result<Listing> {
        let mut listing = Listing::default();
        for prefix in owned_prefixes() {
            let prefix = Path::from(prefix);
            let mut stream = self.store.list(Some(&prefix));
            while let Some(item) = stream.next().await {
                match item {
                    Ok(meta) => listing.objects.push(Listed {
                        key: meta.location.to_string(),
                        size: meta.size,
                        last_modified: meta.last_modified,
                    }),
                    // A local entry whose name is no valid key, or a file that vanished.
                    Err(e @ (object_store::Error::InvalidPath { .. } | object_store::Error::NotFound { .. })) => {
                        listing.unreadable.push(e.to_string())
                    }
                    Err(object_store::Error::Generic { store: "LocalFileSystem", source }) => {
                        listing.unreadable.push(source.to_string())
                    }
                    Err(e) => return Err(e).with_context(|| format!("listing objects under {prefix}/")),
                }
            }
        }
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        listing.objects.dedup_by(|a, b| a.key == b.key);
        Ok(listing)
    }

    /// Lists the objects under one of the service's own prefixes (e.g. `exports`).
    pub async fn list_prefix(&self, prefix: &str) -> anyhow::Result<Vec<Listed>> {
        anyhow::ensure!(owned_prefixes().any(|p| p == prefix), "{prefix}/ is not one of the service's prefixes");
        let prefix = Path::from(prefix);
        let mut stream = self.store.list(Some(&prefix));
        let mut objects = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(meta) => objects.push(Listed {
                    key: meta.location.to_string(),
                    size: meta.size,
                    last_modified: meta.last_modified,
                }),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e).with_context(|| format!("listing objects under {prefix}/")),
            }
        }
        Ok(objects)
    }

    /// The SHA-256 and size of the object at `key`, read as a stream (`inc` is called with each
    /// chunk's length, for progress).
    pub async fn hash_object(&self, key: &str, inc: &(dyn Fn(u64) + Sync)) -> object_store::Result<(String, u64)> {
        let mut stream = self.read_stream(key).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            inc(chunk.len() as u64);
        }
        Ok((hex::encode(hasher.finalize()), size))
    }

    /// Copies the object at `key` into the file `dest` (created, flushed to disk); returns its
    /// SHA-256 and size.
    pub async fn copy_to_file(
        &self,
        key: &str,
        dest: &FsPath,
        inc: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<(String, u64)> {
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut stream = self.read_stream(key).await.with_context(|| format!("reading {key}"))?;
        let mut file = tokio::fs::File::create(dest).await.with_context(|| format!("creating {}", dest.display()))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("reading {key}"))?;
            hasher.update(&chunk);
            file.write_all(&chunk).await.with_context(|| format!("writing {}", dest.display()))?;
            size += chunk.len() as u64;
            inc(chunk.len() as u64);
        }
        file.sync_all().await.with_context(|| format!("writing {}", dest.display()))?;
        Ok((hex::encode(hasher.finalize()), size))
    }

    /// Streams the file at `path` to `key`, hashing what it reads; returns the SHA-256 and size of
    /// what was stored. A failed put leaves nothing behind (a multipart put is aborted).
    pub async fn put_file_hashed(
        &self,
        key: &str,
        path: &FsPath,
        inc: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<(String, u64)> {
        let mut file = tokio::fs::File::open(path).await.with_context(|| format!("opening {}", path.display()))?;
        let len = file.metadata().await?.len();
        let mut hasher = Sha256::new();
        let location = Path::from(key);
        if len <= PART_SIZE as u64 {
            let mut buf = Vec::with_capacity(len as usize);
            file.read_to_end(&mut buf).await.with_context(|| format!("reading {}", path.display()))?;
            hasher.update(&buf);
            let size = buf.len() as u64;
            self.store.put(&location, PutPayload::from(buf)).await.with_context(|| format!("storing {key}"))?;
            inc(size);
            return Ok((hex::encode(hasher.finalize()), size));
        }
        let upload = self.store.put_multipart(&location).await.with_context(|| format!("starting to store {key}"))?;
        let writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let size = copy_into_multipart(&mut file, writer, 2, |piece| {
            hasher.update(piece);
            inc(piece.len() as u64);
        })
        .await
        .with_context(|| format!("storing {} as {key}", path.display()))?;
        Ok((hex::encode(hasher.finalize()), size))
    }

    /// Deletes an object of the service's own: refuses a key outside its prefixes and, in a local
    /// directory, a key whose path goes through a symlink (its target is someone else's).
    pub async fn delete_owned(&self, key: &str) -> anyhow::Result<()> {
        if !is_owned_key(key) {
            bail!("refusing to delete {key}: not under the service's own prefixes");
        }
        if let Some(root) = &self.local_root {
            check_no_symlink(root, key)?;
        }
        self.delete(key).await
    }
}

/// Fails when any path component of `key` under `root` (the file included) is a symlink.
fn check_no_symlink(root: &FsPath, key: &str) -> anyhow::Result<()> {
    let mut path = root.to_path_buf();
    for component in FsPath::new(key).components() {
        let Component::Normal(part) = component else { bail!("refusing to delete {key}: not a plain key") };
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                bail!("refusing to delete {key}: {} is a symlink", path.display())
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("inspecting {}", path.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_keys_are_plain_keys_under_the_service_prefixes() {
        for key in ["audio/x.mp3", "uploads/u/0.abc", "health/1", "text/a/b.txt"] {
            assert!(is_owned_key(key), "{key}");
        }
        for key in ["photos/x.jpg", "audio", "audio/", "/audio/x", "audio/../x", "audio//x", "audio/./x", "x", ""] {
            assert!(!is_owned_key(key), "{key}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_through_a_symlink_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        std::fs::create_dir_all(root.join("video")).unwrap();
        std::fs::create_dir_all(tmp.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), root.join("audio")).unwrap();
        std::fs::write(root.join("video/a.mp4"), b"x").unwrap();
        std::os::unix::fs::symlink(root.join("video/a.mp4"), root.join("video/b.mp4")).unwrap();
        assert!(check_no_symlink(&root, "audio/x.mp3").is_err());
        assert!(check_no_symlink(&root, "video/b.mp4").is_err());
        assert!(check_no_symlink(&root, "video/a.mp4").is_ok());
        assert!(check_no_symlink(&root, "video/missing.mp4").is_ok());
    }

    #[tokio::test]
    async fn hashing_a_reader_gives_sha256_and_size() {
        let (hash, size) = hash_reader(&b"abc"[..]).await.unwrap();
        assert_eq!(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(size, 3);
    }
}
