//! Who may call each endpoint: the one table the handlers' extractors implement and the RBAC
//! matrix test is generated from. It lists every route the router serves (the documentation
//! included); the test checks that against the router and the OpenAPI document, and calls every
//! row as every kind of caller.
//!
//! Handlers state their requirement in their signature (`Auth<AdminOnly>`, `Auth<AnyRole>`,
//! `CurrentUser`, ...) and, for owned resources, in their body (`load_visible`); this table
//! states the same thing as data.

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
    /// The owner of the resource the path names: on an account (`{user_id}`), a user holding no
    /// role acting on their own account; on a record (`{record_id}`) or a resumable upload
    /// (`{upload_uuid}`), the contributor (role `user`) who made it.
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
    /// Callers who pass the role check but not the ownership check, and are answered 404 as if
    /// the resource did not exist (so ids of other people's records and uploads reveal nothing).
    /// Every other caller outside `allow` gets 403.
    pub hidden: &'static [Caller],
}

impl Rule {
    /// True when `caller` passes.
    pub fn allows(&self, caller: Caller) -> bool {
        self.allow.contains(&caller)
    }

    /// True when `caller` is answered 404 rather than 403.
    pub fn hides_from(&self, caller: Caller) -> bool {
        self.hidden.contains(&caller)
    }

    /// True when the path names an owned resource (an account, a record, an upload), so the
    /// owner case applies.
    pub fn has_owner(&self) -> bool {
        ["{user_id}", "{record_id}", "{upload_uuid}"].iter().any(|p| self.path.contains(p))
    }
}

use Caller::*;

/// Anyone, with or without a token.
pub const PUBLIC: &[Caller] = &[Anonymous, NoRole, User, Reviewer, Admin, Owner];
/// Any valid token, whatever the roles.
pub const AUTHENTICATED: &[Caller] = &[NoRole, User, Reviewer, Admin, Owner];
/// Any valid token of a user holding at least one role (`AnyRole`).
pub const ANY_ROLE: &[Caller] = &[User, Reviewer, Admin];
/// Admins.
pub const ADMIN: &[Caller] = &[Admin];
/// Admins and reviewers (`users:GET`, review).
pub const STAFF: &[Caller] = &[Reviewer, Admin];
/// Admins, reviewers and the user themself.
pub const STAFF_OR_OWNER: &[Caller] = &[Reviewer, Admin, Owner];
/// Admins and the user themself.
pub const ADMIN_OR_OWNER: &[Caller] = &[Admin, Owner];

/// Nobody besides the callers allowed.
const NONE: &[Caller] = &[];

const fn rule(method: &'static str, path: &'static str, allow: &'static [Caller]) -> Rule {
    Rule { method, path, allow, hidden: NONE }
}

/// A rule on an owned resource whose `hidden` callers get 404.
const fn owned(method: &'static str, path: &'static str, allow: &'static [Caller], hidden: &'static [Caller]) -> Rule {
    Rule { method, path, allow, hidden }
}

/// Every route the router serves.
pub const RULES: &[Rule] = &[
    // Service information, health and documentation.
    rule("GET", "/", PUBLIC),
    rule("GET", "/health", PUBLIC),
    rule("GET", "/health/ready", PUBLIC),
    rule("GET", "/api/v1/openapi.json", PUBLIC),
    rule("GET", "/docs", PUBLIC),
    rule("GET", "/docs/", PUBLIC),
    rule("GET", "/docs/{*rest}", PUBLIC),
    rule("GET", "/docs/oauth2-redirect", PUBLIC),
    rule("GET", "/redoc", PUBLIC),
    rule("GET", "/redoc/redoc.standalone.js", PUBLIC),
    // Categories: contributors read the published ones, admins manage them.
    rule("GET", "/api/v1/categories/", ANY_ROLE),
    rule("POST", "/api/v1/categories/", ADMIN),
    rule("GET", "/api/v1/categories/{category_id}", ANY_ROLE),
    rule("PUT", "/api/v1/categories/{category_id}", ADMIN),
    rule("DELETE", "/api/v1/categories/{category_id}", ADMIN),
    // Records: contributors see and change their own, reviewers and admins see all.
    rule("GET", "/api/v1/records/", ANY_ROLE),
    rule("POST", "/api/v1/records/", ANY_ROLE),
    rule("GET", "/api/v1/records/search/nearby", ANY_ROLE),
    rule("GET", "/api/v1/records/search/bbox", ANY_ROLE),
    rule("GET", "/api/v1/records/search/distance", ANY_ROLE),
    owned("GET", "/api/v1/records/{record_id}", STAFF_OR_OWNER, &[User]),
    // Reviewers may set only `status` and `reviewed` on someone else's record (content → 403).
    owned("PUT", "/api/v1/records/{record_id}", STAFF_OR_OWNER, &[User]),
    // The production service's partial update: PUT's rules.
    owned("PATCH", "/api/v1/records/{record_id}", STAFF_OR_OWNER, &[User]),
    owned("DELETE", "/api/v1/records/{record_id}", ADMIN_OR_OWNER, &[User]),
    owned("GET", "/api/v1/records/{record_id}/file", STAFF_OR_OWNER, &[User]),
    owned("GET", "/api/v1/records/{record_id}/record-url", STAFF_OR_OWNER, &[User]),
    // The link `record-url` hands out on local storage: its signature is the permission.
    rule("GET", "/api/v1/records/{record_id}/signed-file", PUBLIC),
    rule("POST", "/api/v1/records/{record_id}/review", STAFF),
    rule("GET", "/api/v1/records/review/queue", STAFF),
    // The same handler also answers POST; the OpenAPI document lists GET only.
    rule("POST", "/api/v1/records/review/queue", STAFF),
    // Uploads: a resumable upload is its starter's alone, admins included.
    rule("POST", "/api/v1/records/upload", ANY_ROLE),
    rule("POST", "/api/v1/records/upload/chunk", ANY_ROLE),
    owned("GET", "/api/v1/records/upload/{upload_uuid}/status", &[Owner], &[User, Reviewer, Admin]),
    // Accounts. Password authentication and tokens.
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
    rule("POST", "/api/v1/auth/login/resend-otp", PUBLIC),
    rule("POST", "/api/v1/auth/login/verify-otp", PUBLIC),
    rule("POST", "/api/v1/auth/signup/send-otp", PUBLIC),
    rule("POST", "/api/v1/auth/signup/resend-otp", PUBLIC),
    rule("POST", "/api/v1/auth/signup/verify-otp", PUBLIC),
    rule("POST", "/api/v1/auth/forgot-password", PUBLIC),
    rule("POST", "/api/v1/auth/forgot-password/verify", PUBLIC),
    rule("POST", "/api/v1/auth/forgot-password/init", PUBLIC),
    rule("POST", "/api/v1/auth/forgot-password/confirm", PUBLIC),
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
    // Needs the account's current password, whoever calls.
    rule("PUT", "/api/v1/users/{user_id}/change-password", ADMIN_OR_OWNER),
    rule("DELETE", "/api/v1/users/{user_id}", ADMIN),
    rule("GET", "/api/v1/users/{user_id}/with-roles", STAFF_OR_OWNER),
    rule("GET", "/api/v1/users/{user_id}/roles", STAFF_OR_OWNER),
    // Role assignment is admin-only, also on one's own account.
    rule("POST", "/api/v1/users/{user_id}/roles", ADMIN),
    rule("PUT", "/api/v1/users/{user_id}/roles/add", ADMIN),
    rule("DELETE", "/api/v1/users/{user_id}/roles/{role_id}", ADMIN),
    rule("GET", "/api/v1/users/{user_id}/contributions", STAFF_OR_OWNER),
    rule("GET", "/api/v1/users/{user_id}/contributions/{media_type}", STAFF_OR_OWNER),
    // Tasks: any authenticated caller; admin-only ones answer 403 `Admin access required`. A
    // task's status, cancellation and download are its owner's or an admin's (others: 404).
    owned("POST", "/api/v1/tasks/process-audio/{record_id}", STAFF_OR_OWNER, &[NoRole, User]),
    rule("POST", "/api/v1/tasks/batch-process", AUTHENTICATED),
    // Placeholders of the original: 400 for every caller.
    rule("POST", "/api/v1/tasks/analyze-content/{record_id}", AUTHENTICATED),
    rule("POST", "/api/v1/tasks/batch-language-detection", AUTHENTICATED),
    rule("POST", "/api/v1/tasks/generate-statistics", AUTHENTICATED),
    rule("POST", "/api/v1/tasks/send-notification", ADMIN),
    rule("POST", "/api/v1/tasks/system-alert", ADMIN),
    rule("GET", "/api/v1/tasks/status/{task_id}", AUTHENTICATED),
    rule("DELETE", "/api/v1/tasks/cancel/{task_id}", AUTHENTICATED),
    rule("GET", "/api/v1/tasks/active", ADMIN),
    rule("GET", "/api/v1/tasks/scheduled", ADMIN),
    rule("POST", "/api/v1/tasks/maintenance/cleanup", ADMIN),
    rule("POST", "/api/v1/tasks/maintenance/optimize-db", ADMIN),
    rule("POST", "/api/v1/tasks/maintenance/health-check", ADMIN),
    rule("POST", "/api/v1/tasks/reports/daily", ADMIN),
    // One's own report; admins anyone's.
    rule("POST", "/api/v1/tasks/reports/user", AUTHENTICATED),
    rule("GET", "/api/v1/tasks/statistics", ADMIN),
    rule("POST", "/api/v1/tasks/export-data", AUTHENTICATED),
    rule("GET", "/api/v1/tasks/exports/{task_id}/download", AUTHENTICATED),
    rule("POST", "/api/v1/tasks/export-dataset", ADMIN),
];

/// The rule for `method` + `path`, if the path is in the table.
pub fn find(method: &str, path: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_unique_and_hides_only_owned_resources() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "duplicate rule {} {}", a.method, a.path);
            }
        }
        assert!(find("get", "/api/v1/users/{user_id}").is_some_and(|r| r.allows(Owner) && !r.allows(User)));
        for rule in RULES {
            for caller in rule.hidden {
                assert!(!rule.allows(*caller), "{} {} both allows and hides {caller:?}", rule.method, rule.path);
                assert!(rule.has_owner(), "{} {} hides without an owned resource", rule.method, rule.path);
            }
        }
    }
}
