//! Operations that combine the database and storage: backups (`corpus db backup`), restores
//! (`corpus db restore`) and the storage audit (`corpus storage verify|orphans`). Called by the
//! command line, never by request handlers.

pub mod audit;
pub mod backup;
pub mod manifest;
pub mod pgtools;
pub mod progress;
pub mod restore;
pub mod rotation;
