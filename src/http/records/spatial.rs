//! Spatial search in metres on `geography` (GiST-indexed): `nearby`, `bbox` (boundary points
//! included) and `distance`, each with category and media filters, ordered and paginated.
//! `Accept: application/geo+json` answers a GeoJSON FeatureCollection instead of the list.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::shared::{IntoRead, RecordRead, page_json, visibility};
use crate::{
    auth::{Auth, CurrentUser, roles::AnyRole},
    db::records::{
        Filter, nearby,
        spatial::{self, Bbox},
    },
    domain::{Location, MediaType},
    error::{AppError, Result},
    http::{
        ValidQuery, Validate, Validator,
        common::json_response,
        limits::{DISTANCE_MAX_M, DISTANCE_PAGE_MAX, LATITUDE_MAX, LONGITUDE_MAX, NEARBY_RADIUS_MAX_M, PAGE_MAX},
    },
    state::AppState,
};

/// Radius of `nearby` when the client gives none, in metres.
pub const DEFAULT_NEARBY_RADIUS_M: f64 = 10_000.0;

/// Query of `GET /records/search/nearby`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearbyQuery {
    /// Centre latitude.
    #[param(minimum = -90.0, maximum = 90.0, example = 17.385)]
    pub latitude: f64,
    /// Centre longitude.
    #[param(minimum = -180.0, maximum = 180.0, example = 78.4867)]
    pub longitude: f64,
    /// Radius in metres (default 10000).
    #[param(exclusive_minimum = 0.0, maximum = 50000.0, default = 10000.0)]
    pub distance_meters: Option<f64>,
    /// Alias of `distance_meters` (the official app sends it); checked only when
    /// `distance_meters` is absent.
    #[param(exclusive_minimum = 0.0, maximum = 50000.0)]
    pub radius: Option<f64>,
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only this media type.
    pub media_type: Option<MediaType>,
    /// Records to skip.
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    pub skip: i64,
    /// Page size.
    #[serde(default = "limit_100")]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: i64,
}

fn limit_100() -> i64 {
    100
}

fn limit_50() -> i64 {
    50
}

fn check_centre(v: &mut Validator, latitude: f64, longitude: f64) {
    v.range_f64("latitude", latitude, -LATITUDE_MAX, LATITUDE_MAX);
    v.range_f64("longitude", longitude, -LONGITUDE_MAX, LONGITUDE_MAX);
}

fn check_positive(v: &mut Validator, field: &str, value: f64, max: f64) {
    if value.is_finite() && value <= 0.0 {
        v.error("greater_than", field, "Input should be greater than 0", Some(value.into()), Some(json!({ "gt": 0 })));
    } else {
        v.range_f64(field, value, 0.0, max);
    }
}

impl Validate for NearbyQuery {
    fn validate(&self, v: &mut Validator) {
        check_centre(v, self.latitude, self.longitude);
        if let Some(d) = self.distance_meters {
            check_positive(v, "distance_meters", d, NEARBY_RADIUS_MAX_M);
        } else if let Some(r) = self.radius {
            check_positive(v, "radius", r, NEARBY_RADIUS_MAX_M);
        }
        v.range_i64("skip", self.skip, 0, i64::MAX);
        v.range_i64("limit", self.limit, 1, PAGE_MAX);
    }
}

/// Query of `GET /records/search/bbox`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BboxQuery {
    /// South edge.
    #[param(minimum = -90.0, maximum = 90.0)]
    pub min_lat: f64,
    /// North edge.
    #[param(minimum = -90.0, maximum = 90.0)]
    pub max_lat: f64,
    /// West edge.
    #[param(minimum = -180.0, maximum = 180.0)]
    pub min_lng: f64,
    /// East edge.
    #[param(minimum = -180.0, maximum = 180.0)]
    pub max_lng: f64,
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only this media type.
    pub media_type: Option<MediaType>,
    /// Records to skip.
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    pub skip: i64,
    /// Page size.
    #[serde(default = "limit_100")]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: i64,
}

impl Validate for BboxQuery {
    fn validate(&self, v: &mut Validator) {
        v.range_f64("min_lat", self.min_lat, -LATITUDE_MAX, LATITUDE_MAX);
        v.range_f64("max_lat", self.max_lat, -LATITUDE_MAX, LATITUDE_MAX);
        v.range_f64("min_lng", self.min_lng, -LONGITUDE_MAX, LONGITUDE_MAX);
        v.range_f64("max_lng", self.max_lng, -LONGITUDE_MAX, LONGITUDE_MAX);
        v.range_i64("skip", self.skip, 0, i64::MAX);
        v.range_i64("limit", self.limit, 1, PAGE_MAX);
    }
}

/// Query of `GET /records/search/distance`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DistanceQuery {
    /// Centre latitude.
    #[param(minimum = -90.0, maximum = 90.0, example = 17.385)]
    pub latitude: f64,
    /// Centre longitude.
    #[param(minimum = -180.0, maximum = 180.0, example = 78.4867)]
    pub longitude: f64,
    /// Only records within this many metres; all located records when absent.
    #[param(exclusive_minimum = 0.0, maximum = 100000.0)]
    pub max_distance_meters: Option<f64>,
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only this media type.
    pub media_type: Option<MediaType>,
    /// Records to skip.
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    pub skip: i64,
    /// Page size.
    #[serde(default = "limit_50")]
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: i64,
}

impl Validate for DistanceQuery {
    fn validate(&self, v: &mut Validator) {
        check_centre(v, self.latitude, self.longitude);
        if let Some(d) = self.max_distance_meters {
            check_positive(v, "max_distance_meters", d, DISTANCE_MAX_M);
        }
        v.range_i64("skip", self.skip, 0, i64::MAX);
        v.range_i64("limit", self.limit, 1, DISTANCE_PAGE_MAX);
    }
}

/// One result of the distance search.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DistanceResult {
    /// The record.
    pub record: RecordRead,
    /// Distance from the centre in metres (on the WGS84 spheroid).
    pub distance_meters: f64,
    /// The same in kilometres, rounded to 2 decimals.
    pub distance_km: f64,
}

fn wants_geojson(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/geo+json"))
}

fn feature(record: &RecordRead, distance: Option<f64>) -> Value {
    let geometry = record.location.map(|l| json!({ "type": "Point", "coordinates": [l.longitude, l.latitude] }));
    let mut properties = serde_json::to_value(record).unwrap_or(Value::Null);
    if let (Some(d), Value::Object(map)) = (distance, &mut properties) {
        map.insert("distance_meters".into(), d.into());
        map.insert("distance_km".into(), round2(d / 1000.0).into());
    }
    json!({ "type": "Feature", "id": record.uid, "geometry": geometry, "properties": properties })
}

fn geojson(features: Vec<Value>) -> Response {
    let mut response = Json(json!({ "type": "FeatureCollection", "features": features })).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
    response
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The caller's visibility with the category and media filters every search takes.
fn search_filter(user: &CurrentUser, category_id: Option<Uuid>, media_type: Option<MediaType>) -> Filter {
    Filter { category_id, media_type, ..Filter::visible(visibility(user)) }
}

/// Records within a radius (metres) of a point, nearest first.
#[utoipa::path(get, path = "/api/v1/records/search/nearby", tag = "records", security(("HTTPBearer" = [])),
    params(NearbyQuery),
    responses((status = 200, body = [RecordRead]), (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn nearby(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    headers: HeaderMap,
    ValidQuery(q): ValidQuery<NearbyQuery>,
) -> Result<Response> {
    let radius = q.distance_meters.or(q.radius).unwrap_or(DEFAULT_NEARBY_RADIUS_M);
    let filter = search_filter(&auth, q.category_id, q.media_type);
    let centre = Location { latitude: q.latitude, longitude: q.longitude };
    let rows = nearby::nearby(&state.db, &filter, centre, radius, q.skip, q.limit).await?;
    let records = rows.into_iter().map(|r| (r.record.into_read(&state.config), r.distance_meters));
    if wants_geojson(&headers) {
        return Ok(geojson(records.map(|(r, d)| feature(&r, Some(d))).collect()));
    }
    Ok(json_response(page_json(&records.map(|(r, _)| r).collect::<Vec<_>>())?))
}

/// Records inside a latitude/longitude box, boundary included, newest first.
#[utoipa::path(get, path = "/api/v1/records/search/bbox", tag = "records", security(("HTTPBearer" = [])),
    params(BboxQuery),
    responses((status = 200, body = [RecordRead]), (status = 400, body = crate::error::ErrorDetail),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn bbox(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    headers: HeaderMap,
    ValidQuery(q): ValidQuery<BboxQuery>,
) -> Result<Response> {
    if q.min_lat >= q.max_lat || q.min_lng >= q.max_lng {
        return Err(AppError::BadRequest(
            "Invalid bounding box: min coordinates must be less than max coordinates".into(),
        ));
    }
    let filter = search_filter(&auth, q.category_id, q.media_type);
    let bbox = Bbox { min_lat: q.min_lat, min_lng: q.min_lng, max_lat: q.max_lat, max_lng: q.max_lng };
    let extent = state.record_extent.get(&state.db).await?;
    let rows = spatial::in_bbox(&state.db, &filter, bbox, extent, q.skip, q.limit).await?;
    let records = rows.into_iter().map(|r| r.into_read(&state.config));
    if wants_geojson(&headers) {
        return Ok(geojson(records.map(|r| feature(&r, None)).collect()));
    }
    Ok(json_response(page_json(&records.collect::<Vec<_>>())?))
}

/// Located records by distance from a point (metres), optionally within `max_distance_meters`.
#[utoipa::path(get, path = "/api/v1/records/search/distance", tag = "records", security(("HTTPBearer" = [])),
    params(DistanceQuery),
    responses((status = 200, body = [DistanceResult]), (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn distance(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    headers: HeaderMap,
    ValidQuery(q): ValidQuery<DistanceQuery>,
) -> Result<Response> {
    let filter = search_filter(&auth, q.category_id, q.media_type);
    let centre = Location { latitude: q.latitude, longitude: q.longitude };
    let rows = nearby::by_distance(&state.db, &filter, centre, q.max_distance_meters, q.skip, q.limit).await?;
    let results = rows.into_iter().map(|r| {
        let d = r.distance_meters;
        DistanceResult {
            record: r.record.into_read(&state.config),
            distance_meters: d,
            distance_km: round2(d / 1000.0),
        }
    });
    if wants_geojson(&headers) {
        return Ok(geojson(results.map(|r| feature(&r.record, Some(r.distance_meters))).collect()));
    }
    Ok(json_response(page_json(&results.collect::<Vec<_>>())?))
}
