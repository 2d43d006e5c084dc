//! Categories (`/api/v1/categories`): listed by rank then name, validated (422, never 500),
//! updated field by field, and protected from deletion while records use them (409).

pub use crate::db::categories::Category;
use crate::http::common::{MessageResponse, json_response, present};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    routing::get,
};
use bytes::Bytes;
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    auth::{Auth, roles::AdminOnly, roles::AnyRole},
    db::categories::{self, CategoryChanges, NewCategory},
    error::{AppError, FieldError, Result, ResultExt},
    http::{
        ValidJson, Validate, Validator,
        limits::{CATEGORY_DESCRIPTION_MAX, CATEGORY_NAME_MAX, CATEGORY_TITLE_MAX},
    },
    state::AppState,
};

/// Body of `POST /categories/`. `id`, `created_at` and `updated_at` are server-set and ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CategoryCreate {
    /// Unique machine name (not blank).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub name: String,
    /// Display title (not blank).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub title: String,
    /// Longer description.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Visible to contributors.
    #[serde(default)]
    #[schema(default = false)]
    pub published: bool,
    /// Sort key (ascending).
    #[serde(default)]
    #[schema(default = 0)]
    pub rank: i32,
}

/// Body of `PUT /categories/{id}`: every field given is applied.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CategoryUpdate {
    /// New name (not null, not blank).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub name: Option<Option<String>>,
    /// New title (not null, not blank).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub title: Option<Option<String>>,
    /// New description (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    /// New visibility (not null).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool, required = false)]
    pub published: Option<Option<bool>>,
    /// New rank (not null).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i32, required = false)]
    pub rank: Option<Option<i32>>,
}

impl Validate for CategoryCreate {
    fn validate(&self, v: &mut Validator) {
        v.non_blank("name", &self.name, CATEGORY_NAME_MAX);
        v.non_blank("title", &self.title, CATEGORY_TITLE_MAX);
        v.opt_str_len("description", self.description.as_deref(), 0, CATEGORY_DESCRIPTION_MAX);
    }
}

impl Validate for CategoryUpdate {
    fn validate(&self, v: &mut Validator) {
        let null = |v: &mut Validator, field: &str| {
            v.error("missing", field, "Field cannot be null", Some(serde_json::Value::Null), None)
        };
        match &self.name {
            Some(Some(name)) => v.non_blank("name", name, CATEGORY_NAME_MAX),
            Some(None) => null(v, "name"),
            None => {}
        }
        match &self.title {
            Some(Some(title)) => v.non_blank("title", title, CATEGORY_TITLE_MAX),
            Some(None) => null(v, "title"),
            None => {}
        }
        if let Some(Some(d)) = &self.description {
            v.str_len("description", d, 0, CATEGORY_DESCRIPTION_MAX);
        }
        if matches!(self.published, Some(None)) {
            null(v, "published");
        }
        if matches!(self.rank, Some(None)) {
            null(v, "rank");
        }
    }
}

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/categories", get(list_categories).post(create_category))
        .route("/categories/{category_id}", get(get_category).put(update_category).delete(delete_category))
}

fn not_found() -> AppError {
    AppError::NotFound("Category not found".into())
}

fn duplicate() -> AppError {
    AppError::BadRequest("Category with this name already exists".into())
}

/// A path id that is not a UUID names no category: 404, as for an unknown one.
fn parse_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| not_found())
}

/// Lists categories by rank, then name. Non-admins see published categories only. Answered from
/// memory until a category changes ([`crate::cache::categories`]); the handlers that write one
/// forget the lists before answering, so the writer's next read through this process shows the
/// write even if the change notification is still on its way.
#[utoipa::path(get, path = "/api/v1/categories/", tag = "categories", security(("HTTPBearer" = [])),
    responses((status = 200, body = [Category]), (status = 403, body = crate::error::ErrorDetail)))]
pub async fn list_categories(State(state): State<AppState>, auth: Auth<AnyRole>) -> Result<Response> {
    let with_unpublished = auth.is_admin();
    if let Some(body) = state.categories.get(&with_unpublished) {
        return Ok(json_response(body));
    }
    let ticket = state.categories.ticket();
    let rows = categories::list(&state.db, with_unpublished).await?;
    let body = Bytes::from(serde_json::to_vec(&rows).map_err(anyhow::Error::from)?);
    state.categories.store(ticket, with_unpublished, body.clone());
    Ok(json_response(body))
}

/// One category. Non-admins get 404 for an unpublished one; a non-UUID id is 404 too.
#[utoipa::path(get, path = "/api/v1/categories/{category_id}", tag = "categories", security(("HTTPBearer" = [])),
    params(("category_id" = String, Path)),
    responses((status = 200, body = Category), (status = 404, body = crate::error::ErrorDetail)))]
pub async fn get_category(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    Path(category_id): Path<String>,
) -> Result<Json<Category>> {
    let id = parse_id(&category_id)?;
    categories::get(&state.db, id, auth.is_admin()).await?.map(Json).ok_or_else(not_found)
}

fn blank_error(field: &str) -> AppError {
    AppError::field(FieldError::new("string_blank", &["body", field], "String should not be blank"))
}

/// Creates a category (admin).
#[utoipa::path(post, path = "/api/v1/categories/", tag = "categories", security(("HTTPBearer" = [])),
    request_body = CategoryCreate,
    responses((status = 201, body = Category), (status = 400, body = crate::error::ErrorDetail),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn create_category(
    State(state): State<AppState>,
    _auth: Auth<AdminOnly>,
    ValidJson(body): ValidJson<CategoryCreate>,
) -> Result<(StatusCode, Json<Category>)> {
    let new = NewCategory {
        name: &body.name,
        title: &body.title,
        description: body.description.as_deref(),
        published: body.published,
        rank: body.rank,
    };
    let row = categories::insert(&state.db, &new)
        .await
        .on_constraint("ix_category_name", duplicate)
        .on_constraint("category_name_not_blank", || blank_error("name"))
        .on_constraint("category_title_not_blank", || blank_error("title"))?;
    state.categories.forget_all();
    Ok((StatusCode::CREATED, Json(row)))
}

/// Updates a category (admin): every field present in the body is applied.
#[utoipa::path(put, path = "/api/v1/categories/{category_id}", tag = "categories", security(("HTTPBearer" = [])),
    params(("category_id" = String, Path)), request_body = CategoryUpdate,
    responses((status = 200, body = Category), (status = 400, body = crate::error::ErrorDetail),
        (status = 404, body = crate::error::ErrorDetail), (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn update_category(
    State(state): State<AppState>,
    _auth: Auth<AdminOnly>,
    Path(category_id): Path<String>,
    ValidJson(body): ValidJson<CategoryUpdate>,
) -> Result<Json<Category>> {
    let id = parse_id(&category_id)?;
    let changes = CategoryChanges {
        name: body.name.flatten(),
        title: body.title.flatten(),
        description: body.description,
        published: body.published.flatten(),
        rank: body.rank.flatten(),
    };
    let row = categories::update(&state.db, id, &changes)
        .await
        .on_constraint("ix_category_name", duplicate)
        .on_constraint("category_name_not_blank", || blank_error("name"))
        .on_constraint("category_title_not_blank", || blank_error("title"))?;
    state.categories.forget_all();
    row.map(Json).ok_or_else(not_found)
}

/// Deletes a category (admin); 409 while records use it.
#[utoipa::path(delete, path = "/api/v1/categories/{category_id}", tag = "categories", security(("HTTPBearer" = [])),
    params(("category_id" = String, Path)),
    responses((status = 200, body = MessageResponse), (status = 404, body = crate::error::ErrorDetail),
        (status = 409, body = crate::error::ErrorDetail)))]
pub async fn delete_category(
    State(state): State<AppState>,
    _auth: Auth<AdminOnly>,
    Path(category_id): Path<String>,
) -> Result<Json<MessageResponse>> {
    let id = parse_id(&category_id)?;
    let in_use = || AppError::Conflict("Category is used by records and cannot be deleted".into());
    let deleted = categories::delete(&state.db, id).await.on_constraint("record_category_id_fkey", in_use)?;
    if !deleted {
        return Err(not_found());
    }
    state.categories.forget_all();
    Ok(Json(MessageResponse { message: "Category deleted successfully".into() }))
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_categories, get_category, create_category, update_category, delete_category),
    components(schemas(Category, CategoryCreate, CategoryUpdate, MessageResponse)),
    tags((name = "categories", description = "Record categories"))
)]
pub struct CategoriesDoc;
