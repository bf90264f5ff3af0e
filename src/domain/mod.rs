//! What stowage does, between the HTTP handlers and the stores. Functions
//! return rows and plain structs; http/ shapes them for the wire.

pub mod base64;
pub mod daily;
pub mod digests;
pub mod events;
pub mod files;
pub mod folders;
pub mod forms;
pub mod from_url;
pub mod imagekit;
pub mod images;
pub mod ingest;
pub mod keys;
pub mod multipart;
pub mod paths;
pub mod plan;
pub mod presets;
pub mod quotas;
pub mod search;
pub mod sweeper;
pub mod tokens;
pub mod transfer;
pub mod tus;
pub mod upload_hook;
pub mod uploads;
