//! Integration tests: each starts the real server on 127.0.0.1:0 and talks HTTP.

mod common;

mod auth;
mod cli;
mod dashboard;
mod downloads;
mod faults;
mod files;
mod folders;
mod imagekit;
mod jwt;
mod meta;
mod multipart;
mod session;
mod tokens;
mod tus;
mod uploads;
