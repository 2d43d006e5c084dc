//! Who may call each accounts endpoint: the one table the handlers' extractors implement and the
//! RBAC matrix test is generated from.
//!
//! Handlers state their requirement in their signature (`Auth<AdminOnly>`, `CurrentUser`, ...);
//! this table states the same thing as data, and the test calls every row as every kind of caller.

/// A kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// A valid token of a user holding no role.
    NoRole,
    /// Role `user` (a contributor).
    User,
    /// Role `reviewer`.
    Reviewer,
    /// Role `admin`.
    Admin,
    /// A user with no role acting on their own account (`{user_id}` is the caller).
    Owner,
}

impl Caller {
    /// Every kind of caller, the owner last.
    pub const ALL: [Caller; 6] =
        [Caller::Anonymous, Caller::NoRole, Caller::User, Caller::Reviewer, Caller::Admin, Caller::Owner];
}

/// One endpoint and the callers that pass its access check.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// HTTP method.
    pub method: &'static str,
    /// Path as documented (collection routes with their trailing slash).
    pub path: &'static str,
    /// Callers that pass.
    pub allow: &'static [Caller],
}

impl Rule {
    /// True when `caller` passes.
    pub fn allows(&self, caller: Caller) -> bool {
        self.allow.contains(&caller)
    }

    /// True when the path names a user, so the owner case applies.
    pub fn has_owner(&self) -> bool {
        self.path.contains("{user_id}")
    }
}

use Caller::*;

/// Anyone, with or without a token.
pub const PUBLIC: &[Caller] = &[Anonymous, NoRole, User, Reviewer, Admin, Owner];
/// Any valid token, whatever the roles.
pub const AUTHENTICATED: &[Caller] = &[NoRole, User, Reviewer, Admin, Owner];
/// Admins.
pub const ADMIN: &[Caller] = &[Admin];
/// Admins and reviewers (`users:GET`).
pub const STAFF: &[Caller] = &[Reviewer, Admin];
/// Admins, reviewers and the user themself.
pub const STAFF_OR_OWNER: &[Caller] = &[Reviewer, Admin, Owner];
/// Admins and the user themself.
pub const ADMIN_OR_OWNER: &[Caller] = &[Admin, Owner];

const fn rule(method: &'static str, path: &'static str, allow: &'static [Caller]) -> Rule {
    Rule { method, path, allow }
}

/// Every endpoint of the accounts area.
pub const RULES: &[Rule] = &[
    // Password authentication and tokens.
    rule("POST", "/api/v1/auth/login", PUBLIC),
    rule("GET", "/api/v1/auth/me", AUTHENTICATED),
    rule("POST", "/api/v1/auth/refresh", AUTHENTICATED),
    rule("POST", "/api/v1/auth/change-password", AUTHENTICATED),
    // The original let any user reset anyone's password; self-service goes through OTP.
    rule("POST", "/api/v1/auth/reset-password", ADMIN),
    // One-time codes.
    rule("POST", "/api/v1/auth/send-otp", PUBLIC),
    rule("POST", "/api/v1/auth/resend-otp", PUBLIC),
    rule("POST", "/api/v1/auth/verify-otp", PUBLIC),
    rule("POST", "/api/v1/auth/login/send-otp", PUBLIC),
    rule("POST", "/api/v1/auth/login/verify-otp", PUBLIC),
    rule("POST", "/api/v1/auth/signup/send-otp", PUBLIC),
    rule("POST", "/api/v1/auth/signup/verify-otp", PUBLIC),
    rule("POST", "/api/v1/auth/forgot-password", PUBLIC),
    rule("POST", "/api/v1/auth/forgot-password/verify", PUBLIC),
    // Roles.
    rule("GET", "/api/v1/roles/", ADMIN),
    rule("POST", "/api/v1/roles/", ADMIN),
    rule("GET", "/api/v1/roles/{role_id}", ADMIN),
    rule("PUT", "/api/v1/roles/{role_id}", ADMIN),
    rule("DELETE", "/api/v1/roles/{role_id}", ADMIN),
    // Users.
    rule("GET", "/api/v1/users/", ADMIN),
    // Public sign-up; a token only matters when it is an admin's (role_ids honoured).
    rule("POST", "/api/v1/users/", PUBLIC),
    rule("GET", "/api/v1/users/phone/{phone}", STAFF),
    rule("GET", "/api/v1/users/{user_id}", STAFF_OR_OWNER),
    rule("PUT", "/api/v1/users/{user_id}", ADMIN),
    rule("PATCH", "/api/v1/users/{user_id}", ADMIN_OR_OWNER),
    // The official app's newer call after each login.
    rule("PATCH", "/api/v1/users/{user_id}/last-login", ADMIN_OR_OWNER),
    rule("DELETE", "/api/v1/users/{user_id}", ADMIN),
    rule("GET", "/api/v1/users/{user_id}/with-roles", STAFF_OR_OWNER),
    rule("GET", "/api/v1/users/{user_id}/roles", STAFF_OR_OWNER),
    // Role assignment is admin-only, also on one's own account.
    rule("POST", "/api/v1/users/{user_id}/roles", ADMIN),
    rule("PUT", "/api/v1/users/{user_id}/roles/add", ADMIN),
    rule("DELETE", "/api/v1/users/{user_id}/roles/{role_id}", ADMIN),
    rule("GET", "/api/v1/users/{user_id}/contributions", STAFF_OR_OWNER),
    rule("GET", "/api/v1/users/{user_id}/contributions/{media_type}", STAFF_OR_OWNER),
];

/// The rule for `method` + `path`, if the path is in the table.
pub fn find(method: &str, path: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_unique_and_owner_only_where_a_user_is_named() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "duplicate rule {} {}", a.method, a.path);
            }
        }
        assert!(find("get", "/api/v1/users/{user_id}").is_some_and(|r| r.allows(Owner) && !r.allows(User)));
    }
}
