//! Request and response bodies of the accounts endpoints, with the original's field names and
//! validation rules (lengths as pydantic counted them), one file per kind of body.

mod contributions;
mod otp;
mod passwords;
mod phone;
mod responses;
mod roles;
mod users;

pub use crate::http::common::MessageResponse;
pub use contributions::*;
pub use otp::*;
pub use passwords::*;
pub use phone::*;
pub use responses::*;
pub use roles::*;
pub use users::*;
