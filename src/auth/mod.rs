//! Authentication and authorisation: password hashing, access tokens, and the extractors that make
//! each handler's signature state who may call it.

pub mod extract;
pub mod identities;
pub mod links;
pub mod otp;
pub mod password;
pub mod policy;
pub mod roles;
pub mod sms;
pub mod token;

pub use extract::{Auth, CurrentUser, OptionalUser};
pub use roles::RoleSet;
