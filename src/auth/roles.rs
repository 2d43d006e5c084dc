//! Role sets: which roles pass a check, and the original's wording when a caller is refused.

use crate::domain::RoleName;

/// A set of roles that may call an endpoint. Used as the type parameter of [`super::Auth`], so a
/// handler's signature states its requirement.
pub trait RoleSet: Send + Sync + 'static {
    /// Roles that pass.
    const ROLES: &'static [RoleName];
    /// The requirement as the original phrased it after `Access denied. Required `.
    const REQUIREMENT: &'static str;

    /// True when any of `roles` passes.
    fn allows(roles: &[RoleName]) -> bool {
        roles.iter().any(|r| Self::ROLES.contains(r))
    }

    /// The 403 message for a caller holding `roles`.
    fn denied_message(roles: &[RoleName]) -> String {
        format!("Access denied. Required {}. Your roles: {}", Self::REQUIREMENT, python_list(roles))
    }
}

/// Formats role names as a Python list repr, as the original's messages do: `['user']`, `[]`.
pub fn python_list(roles: &[RoleName]) -> String {
    let items: Vec<String> = roles.iter().map(|r| format!("'{}'", r.as_str())).collect();
    format!("[{}]", items.join(", "))
}

macro_rules! role_set {
    ($(#[$doc:meta])* $name:ident, [$($role:ident),+], $requirement:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl RoleSet for $name {
            const ROLES: &'static [RoleName] = &[$(RoleName::$role),+];
            const REQUIREMENT: &'static str = $requirement;
        }
    };
}

role_set!(
    /// Admins only (`Required roles: admin`).
    AdminOnly, [Admin], "roles: admin"
);
role_set!(
    /// Admins and reviewers.
    AdminOrReviewer, [Admin, Reviewer], "roles: ['admin', 'reviewer']"
);
role_set!(
    /// Anyone holding a role.
    AnyRole, [Admin, Reviewer, User], "roles: ['admin', 'reviewer', 'user']"
);
role_set!(
    /// The permission `users:GET` (admins and reviewers).
    UsersRead, [Admin, Reviewer], "permission: users:GET"
);
role_set!(
    /// The permission `users:POST` (admins).
    UsersCreate, [Admin], "permission: users:POST"
);
role_set!(
    /// The permission `users:PUT` (admins).
    UsersUpdate, [Admin], "permission: users:PUT"
);
role_set!(
    /// The permission `users:DELETE` (admins).
    UsersDelete, [Admin], "permission: users:DELETE"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_the_original() {
        assert_eq!(
            AdminOnly::denied_message(&[RoleName::User]),
            "Access denied. Required roles: admin. Your roles: ['user']"
        );
        assert_eq!(
            AdminOrReviewer::denied_message(&[RoleName::User]),
            "Access denied. Required roles: ['admin', 'reviewer']. Your roles: ['user']"
        );
        assert_eq!(UsersRead::denied_message(&[]), "Access denied. Required permission: users:GET. Your roles: []");
        assert!(AnyRole::allows(&[RoleName::Reviewer]));
        assert!(!AdminOnly::allows(&[RoleName::Reviewer, RoleName::User]));
    }
}
