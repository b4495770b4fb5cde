//! The integration suite, one test binary: real nodes on `127.0.0.1:0`, each with its own
//! real database (a SQLite file, or a PostgreSQL database created for the test). Each module
//! is a suite of its own; nextest still runs every test in a process of its own. One binary
//! instead of one per suite: the shared helpers (`support`) compile and link
//! once, not once per suite.
//!
//! Run one suite with `cargo nextest run -p tiepdan-tests -E 'test(/^tier_sync::/)'`.

mod support;

mod api_bad_input;
mod api_deadlines;
mod api_idempotency;
mod api_lifecycle;
mod api_malformed;
mod api_pagination;
mod api_reception;
mod browser_dashboard;
mod cli_import;
mod demo_maps;
mod fault_process;
mod fault_storage;
mod health;
mod node_backup;
mod node_connections;
mod node_identity;
mod node_metrics;
mod node_recovery;
mod python_interop;
mod report_forms;
mod report_freshness;
mod report_rules;
mod report_seed;
mod smoke;
mod storage_api;
mod storage_bulk;
mod storage_reads;
mod storage_writers;
mod sync_smoke;
mod tier_directory;
mod tier_faults;
mod tier_mail;
mod tier_offline;
mod tier_placement;
mod tier_reconcile;
mod tier_refusals;
mod tier_registration;
mod tier_reorganisation;
mod tier_subtree_claims;
mod tier_sync;
mod tier_transfer;
mod trust_audit;
mod trust_confidentiality;
mod trust_fuzz;
mod trust_tls;
mod trust_tokens;
