//! Authentication: password hashing (and, with the accounts work, tokens, OTP and role extractors).

pub mod password;
