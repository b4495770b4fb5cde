//! The tier link: the parent's service (`link`) and a child's session there (`session`), the
//! uplink to this node's parent (`uplink`), reconciliation of journals by daily digests
//! (`reconcile`) and the metrics endpoint, over the context they share (`SyncHub`).

pub mod link;
pub mod metrics;
pub mod reconcile;
mod recover;
mod session;
pub mod uplink;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::App;

/// What the link service, the uplink and the metrics endpoint share: the application,
/// the shutdown signal and the limits of the link's work.
#[derive(Clone)]
pub struct SyncHub {
    pub app: App,
    pub shutdown: CancellationToken,
    /// Whether a child must present a certificate naming its unit (mutual TLS is on).
    pub require_certificate: bool,
    /// Permits to build a directory for a child (`DIRECTORY_BUILDERS`).
    pub directories: Arc<tokio::sync::Semaphore>,
    /// Permits to apply a child's batches (`APPLIERS`).
    pub appliers: Arc<tokio::sync::Semaphore>,
}

/// Protocol version of the link this release speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Hello feature: the child answers `DigestRequest` and honours `Resend`.
pub const FEATURE_RECONCILE: &str = "reconcile";
/// Hello feature: the child takes back, as `Recovery`, the events of its subtree the parent
/// holds beyond its heads, and writes nothing of its own until told the recovery is done.
pub const FEATURE_RECOVER: &str = "recover";
/// Most events one batch may carry.
pub const MAX_BATCH_EVENTS: usize = 2000;
/// How long a child has to introduce itself.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a reconciliation waits for missing events.
pub const MAX_RECONCILE_WAIT_SECONDS: u32 = 120;
/// Mail sent down and not yet acknowledged, per child.
pub const MAIL_WINDOW: usize = 16;
/// The shortest time between two directories sent to a child. A unit learnt after a quiet
/// spell goes at once; when a whole district connects, each child gets the units of the
/// storm in a few directories instead of one per unit (n children × n units messages, each
/// a transaction at the child).
pub const DIRECTORY_PACE: Duration = Duration::from_millis(200);
/// How many children's directories are built at once. A Welcome carries every unit outside
/// the child's subtree with its sealing key: when a thousand communes connect together, a
/// thousand such lists built at once were most of the town's peak memory, while the writer
/// serializes the handshakes anyway.
pub const DIRECTORY_BUILDERS: usize = 4;
/// Most units one Welcome or Directory carries; a longer directory goes in several messages,
/// so no message grows with the tree (a province's directory in one Welcome would approach
/// the message size limit).
pub const DIRECTORY_CHUNK: usize = 128;
/// How many children's batches are applied (decoded, checked, written) at once. Writes are
/// serialized anyway; a second one is decoded while the first holds the write lock. A
/// session waiting for its turn holds only the batches it received, not an apply in
/// progress: with a thousand children sending together, their waiting applies (each a
/// future with its decoded events) were a large part of the town's heap.
pub const APPLIERS: usize = 2;
/// Most writes a session makes in a row, checking each next batch while the one before is
/// written, before it looks at its other work (mail, directories) again.
pub const RUN_WRITES: usize = 8;
