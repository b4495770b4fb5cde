//! The tier link. This release holds its first part, the journal: every state change is
//! appended, in the transaction that makes it, as an event with a gapless per-origin sequence
//! and a hash chain, ready to be shipped up the tree.

pub mod apply;
pub mod journal;
pub mod link;
pub mod mail;
pub mod metrics;
pub mod reconcile;
pub mod seal;
pub mod status;
pub mod tail;
pub mod uplink;
