//! What stowage does, between the HTTP handlers and the stores.

pub mod files;
pub mod folders;
pub mod imagekit;
pub mod multipart;
pub mod paths;
pub mod sweeper;
pub mod tokens;
pub mod uploads;
