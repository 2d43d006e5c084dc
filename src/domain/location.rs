//! A point on the earth as the API and the database exchange it.

use serde::{Deserialize, Serialize};

/// A point as the API writes and reads it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Location {
    /// Latitude in degrees (WGS84).
    #[schema(minimum = -90.0, maximum = 90.0, example = 17.385)]
    pub latitude: f64,
    /// Longitude in degrees (WGS84).
    #[schema(minimum = -180.0, maximum = 180.0, example = 78.4867)]
    pub longitude: f64,
}
