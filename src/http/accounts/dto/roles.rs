//! Role creation and description updates.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    domain::RoleName,
    http::{Validate, Validator, limits::*},
};

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleCreateRequest {
    /// `admin`, `user` or `reviewer`.
    pub name: RoleName,
    /// Description.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub description: Option<String>,
}

impl Validate for RoleCreateRequest {
    fn validate(&self, v: &mut Validator) {
        v.opt_str_len("description", self.description.as_deref(), 0, ROLE_DESCRIPTION_MAX);
    }
}

/// A role's new description.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleUpdateRequest {
    /// Description, or null.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub description: Option<String>,
}

impl Validate for RoleUpdateRequest {
    fn validate(&self, v: &mut Validator) {
        v.opt_str_len("description", self.description.as_deref(), 0, ROLE_DESCRIPTION_MAX);
    }
}
