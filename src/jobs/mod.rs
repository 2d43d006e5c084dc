//! Background work run inside `corpus serve`: periodic maintenance. Nothing here deletes user
//! content; it removes only abandoned upload leftovers and long-expired one-time codes.

pub mod maintenance;
