//! Domain types that own their invariants: phone numbers, roles, media types, record statuses,
//! locations, timestamps.

pub mod location;
pub mod phone;
pub mod roles;
pub mod status;
pub mod time;

pub use location::Location;
pub use phone::{Phone, PhoneError, PhoneLookup, normalize_phone};
pub use roles::{MediaType, RoleName};
pub use status::{RecordStatus, ReviewStatus};
