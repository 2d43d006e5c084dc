//! Exports of the corpus for people who use it: the admin's dataset export (selected records'
//! media as a tar archive plus a JSON Lines and CSV manifest), written as streams to a local
//! directory or to the service's storage under `exports/`. Run by `corpus export dataset` and,
//! as a job, by the worker; see [`dataset::run`].

pub mod archive;
pub mod dataset;
pub mod manifest;
pub mod output;
pub mod selection;

pub use dataset::{Summary, run};
pub use output::{EXPORTS_PREFIX, Output};
pub use selection::Selection;

/// The error of an export stopped through its cancellation token (test with `err.is::<Cancelled>()`).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the export was cancelled")]
pub struct Cancelled;
