//! Every path of the server the suites use, gathered here so that a move in the server is
//! fixed in this file alone. The suites import these names from `crate::support::server`.

pub use tiepdan_server::app::children::MAX_UNITS;
pub use tiepdan_server::auth;
pub use tiepdan_server::auth::Access;
pub use tiepdan_server::auth::Claims;
pub use tiepdan_server::auth::Role;
pub use tiepdan_server::auth::Secret;
pub use tiepdan_server::config::ServeArgs;
pub use tiepdan_server::config::set_identity;
pub use tiepdan_server::demo::COMMUNES;
pub use tiepdan_server::demo::generator;
pub use tiepdan_server::demo::generator::Ledger;
pub use tiepdan_server::demo::generator::Shape;
pub use tiepdan_server::demo::generator::Target;
pub use tiepdan_server::demo::proxy::Mode;
pub use tiepdan_server::demo::proxy::Proxy;
pub use tiepdan_server::demo::wait_synced as journal_synced;
pub use tiepdan_server::demo::wait_synced;
pub use tiepdan_server::domain::model::Unit;
pub use tiepdan_server::domain::model::UnitLevel;
pub use tiepdan_server::domain::period::Calendar;
pub use tiepdan_server::domain::period::Period;
pub use tiepdan_server::domain::period::parse;
pub use tiepdan_server::domain::tally::rollups_of;
pub use tiepdan_server::maintenance::{DatabaseArgs, backup, restore};
pub use tiepdan_server::net::ConnectionLimits;
pub use tiepdan_server::node;
pub use tiepdan_server::node::MAX_MESSAGE_BYTES;
pub use tiepdan_server::node::NodeConfig;
pub use tiepdan_server::node::WRITES_HEALTH;
pub use tiepdan_server::report::Report;
pub use tiepdan_server::report::Source;
pub use tiepdan_server::report::{
    maintained_rollups, maintained_totals, recount_totals, report_from,
};
pub use tiepdan_server::storage::Store;
pub use tiepdan_server::storage::audit;
pub use tiepdan_server::storage::entities::case;
pub use tiepdan_server::storage::entities::conclusion;
pub use tiepdan_server::storage::entities::journal_event;
pub use tiepdan_server::storage::entities::journal_head;
pub use tiepdan_server::storage::entities::petition;
pub use tiepdan_server::storage::entities::schedule_entry;
pub use tiepdan_server::storage::entities::tally;
pub use tiepdan_server::storage::entities::visit;
pub use tiepdan_server::storage::migration::fill_rollups;
pub use tiepdan_server::storage::records::Inserts;
pub use tiepdan_server::storage::records::OnKey;
pub use tiepdan_server::storage::records::by_ids_sql;
pub use tiepdan_server::storage::records::insert_rows;
pub use tiepdan_server::storage::{journal, keys, mail, records};
pub use tiepdan_server::sync::DIRECTORY_CHUNK;
pub use tiepdan_server::sync::MAX_BATCH_EVENTS;
pub use tiepdan_server::sync::link::MAX_DIGEST_ORIGINS;
pub use tiepdan_server::tls;
pub use tiepdan_server::wire;
pub use tiepdan_server::wire::inbound;
