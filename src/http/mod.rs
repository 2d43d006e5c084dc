//! The HTTP layer: one module per resource, each with its own `router()` and OpenAPI paths.

pub mod accounts;
pub mod categories;
pub mod client_ip;
pub mod common;
pub mod docs;
pub mod extract;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod records;
pub mod root;
pub mod tasks;

pub use extract::{ValidJson, ValidPath, ValidQuery, Validate, Validator};
