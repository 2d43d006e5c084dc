//! corpus-te: backend for crowdsourced collection of a Telugu language corpus.
//!
//! One binary (`corpus`) serves the HTTP API and runs the operations commands; this library holds
//! everything it is made of, so the integration tests can build the same application in-process.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
/// The web console at `/console` (server-rendered pages for contributors, reviewers and admins).
pub mod console;
pub mod db;
pub mod domain;
pub mod error;
pub mod exports;
pub mod http;
pub mod jobs;
/// Facts about uploaded files from their bytes: real type, allowed-ness, duration, SHA-256.
pub mod media;
pub mod monitoring;
pub mod openapi;
pub mod ops;
pub mod ratelimit;
pub mod router;
pub mod server;
pub mod state;
pub mod storage;
pub mod telemetry;

pub use error::{AppError, Result};
