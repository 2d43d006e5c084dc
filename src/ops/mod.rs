//! Operations that combine the database and storage: backups (`corpus db backup`), restores
//! (`corpus db restore`). Called by the
//! command line, never by request handlers.

pub mod backup;
pub mod manifest;
pub mod pgtools;
pub mod progress;
pub mod restore;
