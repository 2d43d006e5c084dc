//! Admins: users (search by phone, activate or deactivate, roles) and categories (create, edit,
//! publish, rank). Admins only: anyone else gets 403.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, PageResult, csrf::SessionForm, render, require, session::ConsoleUser};
use crate::{
    db::{
        accounts::{self, UserChanges},
        categories::{self, Category, CategoryChanges, NewCategory},
        users,
    },
    domain::RoleName,
    error::{AppError, ResultExt},
    state::AppState,
};

const ADMIN: &[RoleName] = &[RoleName::Admin];
/// Users listed without a search.
const USERS_SHOWN: i64 = 50;
/// Longest category name or title.
const CATEGORY_TEXT_MAX: usize = 100;

/// A user row of the users page.
pub struct UserRow {
    /// Id.
    pub id: Uuid,
    /// Phone.
    pub phone: String,
    /// Name.
    pub name: String,
    /// May sign in.
    pub active: bool,
    /// For each role: name and whether the user holds it.
    pub roles: Vec<(&'static str, bool)>,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    layout: Layout,
    phone: String,
    users: Vec<UserRow>,
}

/// Query of the users page.
#[derive(Debug, Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    phone: String,
}

/// `GET /console/admin/users[?phone=]`.
pub async fn users(State(state): State<AppState>, user: ConsoleUser, Query(q): Query<UsersQuery>) -> PageResult {
    require(&user, ADMIN, "users")?;
    let phone = q.phone.trim();
    let found = if phone.is_empty() {
        accounts::list_users(&state.db, 0, USERS_SHOWN).await?
    } else {
        accounts::users_by_phone(&state.db, phone).await?
    };
    let mut rows = Vec::with_capacity(found.len());
    for u in found {
        let held = accounts::roles_of(&state.db, u.id).await?;
        let roles = RoleName::ALL.iter().map(|r| (r.as_str(), held.iter().any(|h| h.name == r.as_str()))).collect();
        rows.push(UserRow { id: u.id, phone: u.phone, name: u.name, active: u.is_active, roles });
    }
    let page = UsersPage { layout: Layout::for_user(&user, "users"), phone: phone.to_owned(), users: rows };
    Ok(render(&page))
}

/// Activation form.
#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    active: String,
}

/// `POST /console/admin/users/{id}/active`: deactivation also ends the user's tokens and
/// console sessions.
pub async fn set_active(
    State(state): State<AppState>,
    Path(user_id): Path<Uuid>,
    SessionForm { user, form, .. }: SessionForm<ActiveForm>,
) -> PageResult {
    require(&user, ADMIN, "users")?;
    let active = form.active == "true";
    // An admin cannot lock themselves out (another admin can).
    if user_id == user.user.id && !active {
        return Err(AppError::BadRequest("You cannot deactivate your own account".into()).into());
    }
    let changes = UserChanges { is_active: Some(active), ..UserChanges::default() };
    let changed = accounts::update_user(&state.db, user_id, &changes).await?;
    state.identities.forget(user_id);
    let changed = changed.ok_or_else(|| AppError::NotFound("User not found".into()))?;
    tracing::info!(user_id = %user_id, active, "user activation changed in the console");
    Ok(Redirect::to(&format!("/console/admin/users?phone={}", encode(&changed.phone))).into_response())
}

/// `POST /console/admin/users/{id}/roles`: the checked roles replace the user's roles.
pub async fn set_roles(
    State(state): State<AppState>,
    Path(user_id): Path<Uuid>,
    SessionForm { user, pairs, .. }: SessionForm<serde::de::IgnoredAny>,
) -> PageResult {
    require(&user, ADMIN, "users")?;
    let mut names: Vec<RoleName> =
        pairs.iter().filter(|(k, _)| k == "role").filter_map(|(_, v)| RoleName::parse(v)).collect();
    names.dedup();
    if user_id == user.user.id && !names.contains(&RoleName::Admin) {
        return Err(AppError::BadRequest("You cannot remove your own admin role".into()).into());
    }
    let target =
        accounts::get_user(&state.db, user_id).await?.ok_or_else(|| AppError::NotFound("User not found".into()))?;
    let ids = users::role_ids(&state.db, &names)
        .await?
        .map_err(|missing| AppError::BadRequest(format!("unknown roles: {missing:?}")))?;
    let mut tx = state.db.begin().await?;
    users::replace_roles(&mut tx, user_id, &ids).await?;
    tx.commit().await?;
    state.identities.forget(user_id);
    tracing::info!(user_id = %user_id, roles = ?names, "user roles replaced in the console");
    Ok(Redirect::to(&format!("/console/admin/users?phone={}", encode(&target.phone))).into_response())
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[derive(Template)]
#[template(path = "console/categories.html")]
struct CategoriesPage {
    layout: Layout,
    categories: Vec<Category>,
}

/// `GET /console/admin/categories`: every category, published or not.
pub async fn categories(State(state): State<AppState>, user: ConsoleUser) -> PageResult {
    require(&user, ADMIN, "categories")?;
    let categories = categories::list(&state.db, true).await?;
    Ok(render(&CategoriesPage { layout: Layout::for_user(&user, "categories"), categories }))
}

/// A category form (create and edit).
#[derive(Debug, Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    rank: String,
}

impl CategoryForm {
    fn checked(&self) -> Result<(String, String, Option<String>, i32), AppError> {
        let name = self.name.trim().to_owned();
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > CATEGORY_TEXT_MAX || name.chars().count() > CATEGORY_TEXT_MAX {
            return Err(AppError::BadRequest(format!("title must be 1 to {CATEGORY_TEXT_MAX} characters")));
        }
        let rank = match self.rank.trim() {
            "" => 0,
            raw => raw.parse().map_err(|_| AppError::BadRequest("rank must be a whole number".into()))?,
        };
        let description = Some(self.description.trim().to_owned()).filter(|d| !d.is_empty());
        Ok((name, title, description, rank))
    }
}

fn taken() -> AppError {
    AppError::Conflict("A category with this name already exists".into())
}

/// `POST /console/admin/categories`: creates a category.
pub async fn create_category(
    State(state): State<AppState>,
    SessionForm { user, form, .. }: SessionForm<CategoryForm>,
) -> PageResult {
    require(&user, ADMIN, "categories")?;
    let (name, title, description, rank) = form.checked()?;
    if name.is_empty() {
        return Err(AppError::BadRequest("name must not be blank".into()).into());
    }
    let new = NewCategory {
        name: &name,
        title: &title,
        description: description.as_deref(),
        published: form.published.is_some(),
        rank,
    };
    categories::insert(&state.db, &new).await.on_constraint("ix_category_name", taken)?;
    Ok(Redirect::to("/console/admin/categories").into_response())
}

/// `POST /console/admin/categories/{id}`: edits title, description, publication and rank.
pub async fn update_category(
    State(state): State<AppState>,
    Path(category_id): Path<Uuid>,
    SessionForm { user, form, .. }: SessionForm<CategoryForm>,
) -> PageResult {
    require(&user, ADMIN, "categories")?;
    let (name, title, description, rank) = form.checked()?;
    let changes = CategoryChanges {
        name: Some(name).filter(|n| !n.is_empty()),
        title: Some(title),
        description: Some(description),
        published: Some(form.published.is_some()),
        rank: Some(rank),
    };
    categories::update(&state.db, category_id, &changes)
        .await
        .on_constraint("ix_category_name", taken)?
        .ok_or_else(|| AppError::NotFound("Category not found".into()))?;
    Ok(Redirect::to("/console/admin/categories").into_response())
}
