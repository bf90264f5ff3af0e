//! Integration tests: each starts the real server on 127.0.0.1:0 and talks HTTP.

mod common;

mod auth;
mod cli;
mod crash;
mod dashboard;
mod dedup;
mod digest;
mod direct_parts;
mod downloads;
mod faults;
mod files;
mod folders;
mod hardening;
mod hardening_auth;
mod imagekit;
mod images;
mod images_auth;
mod images_avif;
mod images_memory;
mod jwt;
mod meta;
mod multipart;
mod session;
mod tokens;
mod tus;
mod uploads;
