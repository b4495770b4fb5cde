//! What the suites share, one definition each: nodes and their clients (`api`), instants in
//! local time (`time`), bounded waiting (`wait`), assertions on statuses (`status`), trees
//! of linked nodes (`tree`), readings through the services (`clients`), workloads
//! (`workload`), the invariant checker (`recount`) and the raw link (`link`); and the one
//! macro that makes a test's SQLite/PostgreSQL pair.
//!
//! Every path of the server the suites use (`tiepdan_server::…`) is in `server.rs`, and
//! nowhere else.

#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

mod api;
mod clients;
mod link;
mod recount;
pub mod server;
mod status;
mod time;
mod tree;
mod wait;
mod workload;

pub use api::*;
pub use clients::*;
pub use link::*;
pub use recount::*;
pub use status::*;
pub use time::*;
pub use tree::*;
pub use wait::*;
pub use workload::*;

pub use tiepdan_proto::v1 as pb;
pub use tiepdan_tests::{Backend, TestDb, TestNode, unit};

// The server's paths the helpers use.
use crate::support::server::journal_synced;
pub use crate::support::server::{Mode, Proxy};
use crate::support::server::{NodeConfig, node};
use crate::support::server::{Unit, UnitLevel};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{Debug, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use prost::Message;
use prost_types::Timestamp;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Response, Status, Streaming};
use tonic_types::StatusExt;

/// Makes each test of an `async fn(Backend)` twice, `NAME::sqlite` and `NAME::postgres`; with
/// `depths:` first, each test of an `async fn(Backend, Depth)` six times, once per backend and
/// tree depth (`NAME::two_tier_sqlite` … `NAME::four_tier_postgres`). Attributes before a
/// name (`#[ignore = "..."]`) go on each of its tests.
macro_rules! on_every_backend {
    (@pair $(#[$attr:meta])* $sqlite:ident, $postgres:ident, $name:ident ($($arg:expr),*)) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            super::$name($crate::support::Backend::Sqlite $(, $arg)*).await;
        }

        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            super::$name($crate::support::Backend::Postgres $(, $arg)*).await;
        }
    };
    (depths: $($(#[$attr:meta])* $name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::support::Depth;

                $crate::support::on_every_backend!(@pair $(#[$attr])*
                    two_tier_sqlite, two_tier_postgres, $name(Depth::Two));
                $crate::support::on_every_backend!(@pair $(#[$attr])*
                    three_tier_sqlite, three_tier_postgres, $name(Depth::Three));
                $crate::support::on_every_backend!(@pair $(#[$attr])*
                    four_tier_sqlite, four_tier_postgres, $name(Depth::Four));
            }
        )+
    };
    ($($(#[$attr:meta])* $name:ident),+ $(,)?) => {
        $(
            mod $name {
                $crate::support::on_every_backend!(@pair $(#[$attr])* sqlite, postgres, $name());
            }
        )+
    };
}
pub(crate) use on_every_backend;
