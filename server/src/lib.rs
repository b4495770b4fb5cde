//! tiepdan node: the citizen-reception and petition registry of one administrative unit,
//! served over gRPC, and (in later releases) its link up the administrative tree.
//!
//! - [`domain`]: records, lifecycle, deadlines, validation — pure Rust;
//! - [`storage`]: sea-orm entities, migrations and queries on SQLite and PostgreSQL;
//! - [`sync`]: the journal the tier link ships up the tree;
//! - [`registry`]: the operations, each one write transaction;
//! - [`api`]: thin tonic handlers;
//! - [`auth`]: operator tokens and who may call what;
//! - [`node`]: a running node.

pub mod api;
pub mod auth;
pub mod config;
pub mod demo;
pub mod domain;
pub mod net;
pub mod node;
pub mod registry;
pub mod report;
pub mod storage;
pub mod sync;
pub mod tls;
pub mod wire;
