//! Integration tests: each starts the real server on 127.0.0.1:0 and talks HTTP.

mod common;

mod auth;
mod downloads;
mod files;
mod jwt;
mod meta;
mod uploads;
