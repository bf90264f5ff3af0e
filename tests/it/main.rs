//! Integration tests: each starts the real server on 127.0.0.1:0 and talks HTTP.

mod common;

mod auth;
mod body_rate;
mod cli;
mod commit_faults;
mod crash;
mod dashboard;
mod dedup;
mod digest;
mod direct_parts;
mod downloads;
mod faults;
mod files;
mod folders;
mod form_memory;
mod hardening;
mod hardening_auth;
mod hardening_limits;
mod hardening_presets;
mod imagekit;
mod images;
mod images_auth;
mod jwt;
mod jwt_carriers;
mod meta;
mod multipart;
mod session;
mod tokens;
mod tus;
mod uploads;
mod uploads_forms;
