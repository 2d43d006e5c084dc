//! Extractors: [`CurrentUser`] (a valid bearer token of an active user, with the roles held now:
//! see [`IdentityCache`] for how "now" stays exact without a database read per request) and
//! [`Auth<R>`] (the same, holding one of the roles of `R`).
//!
//! Answers follow the original: no `Authorization` header, or an empty bearer → 403
//! `Not authenticated`; another scheme → 403 `Invalid authentication credentials`; a bad, expired
//! or revoked token → 401 `Could not validate credentials` with `WWW-Authenticate: Bearer`.

use std::{marker::PhantomData, sync::Arc};

use axum::{extract::FromRequestParts, http::request::Parts};
use sqlx::PgPool;
use uuid::Uuid;

use super::{identities::IdentityCache, roles::RoleSet, token::TokenKeys};
use crate::{db::accounts::Identity, domain::RoleName, error::AppError};

/// What the extractors need from the application state: the database (fresh roles, revocation)
/// and the token keys. The state implements it, so this layer does not depend on the state.
pub trait AuthState: Send + Sync {
    /// The database pool.
    fn db(&self) -> &PgPool;
    /// The access-token keys.
    fn tokens(&self) -> &TokenKeys;
    /// Identities of recent callers.
    fn identities(&self) -> &IdentityCache;
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// User id.
    pub id: Uuid,
    /// Roles held right now.
    pub roles: Vec<RoleName>,
    /// The whole identity as read (profile and role records), shared with the cache.
    pub identity: Arc<Identity>,
}

impl CurrentUser {
    /// The caller an identity describes (whether it may act is checked by the caller of this).
    pub fn from_identity(identity: Arc<Identity>) -> Self {
        Self {
            id: identity.user.id,
            roles: identity.roles.iter().filter_map(|r| RoleName::parse(&r.name)).collect(),
            identity,
        }
    }

    /// True when the caller holds `role`.
    pub fn has(&self, role: RoleName) -> bool {
        self.roles.contains(&role)
    }

    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.has(RoleName::Admin)
    }

    /// True for admins and reviewers (who see every record).
    pub fn is_staff(&self) -> bool {
        self.has(RoleName::Admin) || self.has(RoleName::Reviewer)
    }
}

/// Reads the bearer token of a request: `Ok(None)` when there is none.
pub fn bearer_token(parts: &Parts) -> Result<Option<&str>, AppError> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| AppError::Forbidden("Invalid authentication credentials".into()))?;
    let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if scheme.is_empty() {
        return Ok(None);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AppError::Forbidden("Invalid authentication credentials".into()));
    }
    if credentials.is_empty() { Ok(None) } else { Ok(Some(credentials)) }
}

impl<S: AuthState> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?.ok_or_else(|| AppError::Forbidden("Not authenticated".into()))?;
        authenticate(state, token).await
    }
}

/// Validates a token and loads its user with fresh roles.
pub async fn authenticate(state: &impl AuthState, token: &str) -> Result<CurrentUser, AppError> {
    let invalid = || AppError::Unauthorized("Could not validate credentials".into());
    let claims = state.tokens().verify(token.trim()).map_err(|_| invalid())?;
    let user_id = Uuid::parse_str(&claims.sub).map_err(|_| AppError::Unauthorized("Invalid user ID format".into()))?;
    let row = state
        .identities()
        .get(state.db(), user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("User not found".into()))?;
    if !row.user.is_active {
        return Err(AppError::Unauthorized("Inactive user".into()));
    }
    // Tokens issued before a password change, reset or deactivation are revoked.
    if row.tokens_valid_after.is_some_and(|after| claims.issued_before(after)) {
        return Err(invalid());
    }
    Ok(CurrentUser::from_identity(row))
}

/// An authenticated caller holding one of the roles of `R`; otherwise 403 with the original's message.
#[derive(Debug, Clone)]
pub struct Auth<R: RoleSet> {
    /// The caller.
    pub user: CurrentUser,
    _roles: PhantomData<R>,
}

impl<R: RoleSet> std::ops::Deref for Auth<R> {
    type Target = CurrentUser;

    fn deref(&self) -> &CurrentUser {
        &self.user
    }
}

impl<S: AuthState, R: RoleSet> FromRequestParts<S> for Auth<R> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !R::allows(&user.roles) {
            return Err(AppError::Forbidden(R::denied_message(&user.roles)));
        }
        Ok(Self { user, _roles: PhantomData })
    }
}

/// The caller on a public endpoint where a token only adds privileges (e.g. an admin creating a
/// user with chosen roles): `None` without a token, and also `None` with an unusable one, so a
/// client sending a stale token to a public endpoint is served as anonymous, as the original did.
#[derive(Debug, Clone)]
pub struct OptionalUser(pub Option<CurrentUser>);

impl<S: AuthState> FromRequestParts<S> for OptionalUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ok(Some(token)) = bearer_token(parts) else { return Ok(Self(None)) };
        match authenticate(state, token).await {
            Ok(user) => Ok(Self(Some(user))),
            Err(AppError::Unauthorized(_)) => Ok(Self(None)),
            Err(other) => Err(other),
        }
    }
}
