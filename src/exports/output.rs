//! Where an export's files go, written as streams: a local directory, or the service's storage
//! under [`EXPORTS_PREFIX`] (an S3 multipart upload per file, or the local backend's equivalent).
//!
//! A file becomes visible only once whole: a local file is written under a `.partial` name and
//! renamed at the end; a multipart upload is completed at the end, or aborted. When an export
//! fails or is cancelled, whatever it had already completed is removed too, and nothing else:
//! a directory it did not create stays, and so does any file in it that is not its own.

use std::path::PathBuf;

use anyhow::{Context, bail};
use object_store::{WriteMultipart, path::Path as ObjectPath};
use tokio::io::AsyncWriteExt;

use crate::storage::Storage;

/// Top-level key prefix of export results in the service's storage.
pub const EXPORTS_PREFIX: &str = "exports";

/// Part size of the archive's multipart upload (S3 wants at least 5 MiB but the last).
const ARCHIVE_PART: usize = 8 * 1024 * 1024;
/// Part size of the manifests' multipart uploads.
const MANIFEST_PART: usize = 5 * 1024 * 1024;
/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// Write buffer of a local file.
const FILE_BUFFER: usize = 1024 * 1024;

/// Where an export is written (serialisable, to travel in a job's arguments).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// A local directory: created if missing, else it must hold none of the export's file names.
    Directory(PathBuf),
    /// The service's storage, under `exports/<name>/`.
    Storage {
        /// The export's own folder under `exports/` (one path segment).
        name: String,
    },
}

impl Output {
    /// A new storage output named `dataset-<UTC time>-<random>`.
    pub fn new_storage() -> Self {
        let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let tag = uuid::Uuid::new_v4().simple().to_string();
        Output::Storage { name: format!("dataset-{now}-{}", &tag[..8]) }
    }

    /// Where a file named `file` of this output is, for people (a path, or `<location>/<key>`).
    pub fn describe(&self, storage: &Storage, file: &str) -> String {
        match self {
            Output::Directory(dir) => dir.join(file).display().to_string(),
            Output::Storage { name } => format!("{}/{EXPORTS_PREFIX}/{name}/{file}", storage.location),
        }
    }

    /// The storage key of a file named `file` of a storage output.
    pub fn key(name: &str, file: &str) -> String {
        format!("{EXPORTS_PREFIX}/{name}/{file}")
    }
}

/// The files an export writes, opened together and finished or discarded together.
pub(crate) struct Target {
    output: Output,
    storage: Storage,
    /// A local directory this export created (removed again, if left empty, on failure).
    created_dir: Option<PathBuf>,
    /// What is finished, to remove on a later failure.
    done: Vec<Done>,
}

enum Done {
    File(PathBuf),
    Object(String),
}

/// One file being written.
pub(crate) enum Sink {
    /// A local file under its `.partial` name.
    File { file: tokio::io::BufWriter<tokio::fs::File>, partial: PathBuf, path: PathBuf },
    /// A multipart upload.
    Object { writer: WriteMultipart, key: String },
}

impl Target {
    /// Prepares `output`: checks the directory (creating it if missing), or the storage name.
    pub(crate) async fn open(output: Output, storage: &Storage, files: &[&str]) -> anyhow::Result<Self> {
        let mut created_dir = None;
        match &output {
            Output::Directory(dir) => match tokio::fs::metadata(dir).await {
                Ok(meta) if !meta.is_dir() => bail!("{} exists and is not a directory", dir.display()),
                Ok(_) => {
                    for file in files {
                        for name in [file.to_string(), partial_name(file)] {
                            if tokio::fs::symlink_metadata(dir.join(&name)).await.is_ok() {
                                bail!("{} already exists; choose another directory", dir.join(name).display());
                            }
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tokio::fs::create_dir_all(dir).await.with_context(|| format!("creating {}", dir.display()))?;
                    created_dir = Some(dir.clone());
                }
                Err(e) => return Err(e).with_context(|| format!("inspecting {}", dir.display())),
            },
            Output::Storage { name } => {
                let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
                if name.is_empty() || name.len() > 200 || name.starts_with('.') || !name.bytes().all(plain) {
                    bail!("invalid export name {name:?}: letters, digits, '-', '_' and '.' expected");
                }
            }
        }
        Ok(Self { output, storage: storage.clone(), created_dir, done: Vec::new() })
    }

    /// Starts writing the file named `file`; `large` picks the bigger part size.
    pub(crate) async fn create(&self, file: &str, large: bool) -> anyhow::Result<Sink> {
        match &self.output {
            Output::Directory(dir) => {
                let partial = dir.join(partial_name(file));
                let handle = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&partial)
                    .await
                    .with_context(|| format!("creating {}", partial.display()))?;
                Ok(Sink::File {
                    file: tokio::io::BufWriter::with_capacity(FILE_BUFFER, handle),
                    partial,
                    path: dir.join(file),
                })
            }
            Output::Storage { name } => {
                let key = Output::key(name, file);
                let upload = self
                    .storage
                    .store
                    .put_multipart(&ObjectPath::from(key.as_str()))
                    .await
                    .with_context(|| format!("starting the upload of {key}"))?;
                let part = if large { ARCHIVE_PART } else { MANIFEST_PART };
                Ok(Sink::Object { writer: WriteMultipart::new_with_chunk_size(upload, part), key })
            }
        }
    }

    /// Completes `sink` (renames the local file into place, or completes the upload).
    pub(crate) async fn finish(&mut self, sink: Sink) -> anyhow::Result<()> {
        match sink {
            Sink::File { mut file, partial, path } => {
                let result = async {
                    file.flush().await?;
                    file.get_ref().sync_all().await?;
                    tokio::fs::rename(&partial, &path).await
                }
                .await;
                if let Err(e) = result {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(e).with_context(|| format!("writing {}", path.display()));
                }
                self.done.push(Done::File(path));
            }
            Sink::Object { writer, key } => {
                writer.finish().await.with_context(|| format!("completing {key}"))?;
                self.done.push(Done::Object(key));
            }
        }
        Ok(())
    }

    /// Discards the unfinished `sinks` and every file this export completed; removes the
    /// directory it created if nothing else is in it.
    pub(crate) async fn discard(self, sinks: Vec<Sink>) {
        for sink in sinks {
            sink.abort().await;
        }
        for done in &self.done {
            match done {
                Done::File(path) => {
                    if let Err(e) = tokio::fs::remove_file(path).await {
                        tracing::warn!(error = %e, path = %path.display(), "could not remove an export file");
                    }
                }
                Done::Object(key) => self.storage.delete_quietly(key).await,
            }
        }
        if let Some(dir) = &self.created_dir {
            // Only when empty: `remove_dir` never removes anything else.
            let _ = tokio::fs::remove_dir(dir).await;
        }
    }
}

impl Sink {
    /// Appends `bytes`; with a multipart upload, waits while too many parts are in flight.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        match self {
            Sink::File { file, partial, .. } => {
                file.write_all(bytes).await.with_context(|| format!("writing {}", partial.display()))
            }
            Sink::Object { writer, key } => {
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await.with_context(|| format!("storing a part of {key}"))?;
                writer.write(bytes);
                Ok(())
            }
        }
    }

    /// Drops what was written: removes the partial file, or aborts the upload.
    async fn abort(self) {
        match self {
            Sink::File { file, partial, .. } => {
                drop(file);
                if let Err(e) = tokio::fs::remove_file(&partial).await {
                    tracing::warn!(error = %e, path = %partial.display(), "could not remove a partial export file");
                }
            }
            Sink::Object { writer, key } => {
                if let Err(e) = writer.abort().await {
                    tracing::warn!(error = %e, key, "could not abort an export upload");
                }
            }
        }
    }
}

fn partial_name(file: &str) -> String {
    format!(".{file}.partial")
}
