//! tiepdan node: the citizen-reception and petition register of one administrative unit,
//! served over gRPC, linked up and down the administrative tree. Layers, each importing only
//! those before it:
//!
//! - [`domain`]: records, lifecycle, deadlines, validation, the counting rules, periods and
//!   the unit tree — pure Rust;
//! - [`wire`]: the protobuf form of records and journal events, both ways;
//! - [`storage`]: the only code that speaks SQL (sea-orm on SQLite and PostgreSQL): rows,
//!   journal, outbox, keys, totals, the write path's health and the database lock;
//! - [`app`]: the node's state and its use cases, each one write transaction;
//! - [`report`]: reports assembled from the maintained totals;
//! - adapters: [`api`] (thin tonic handlers), [`sync`] (the tier link: downlink service,
//!   sessions, uplink, reconciliation, metrics), [`auth`], [`tls`], [`net`]; [`web`] (the
//!   dashboard's listener: the page and gRPC-Web over the services of [`api`] and [`sync`]);
//! - [`node`] a running node, [`config`] its command line and file, [`demo`] the seed's tree.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod domain;
pub mod maintenance;
pub mod net;
pub mod node;
pub mod report;
pub mod storage;
pub mod sync;
pub mod tls;
pub mod web;
pub mod wire;
