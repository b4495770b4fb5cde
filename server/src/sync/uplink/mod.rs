//! The child's side of the tier link: one task that keeps a stream open to the parent,
//! reconnecting with capped exponential backoff and full jitter, resumes where the parent
//! says it is, ships the journal (its own events and those it holds for its subtree) in
//! batches bounded by count and bytes with a small window of unacknowledged batches, carries
//! mail both ways, and ends cleanly on shutdown.

use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng;
use tonic::transport::ClientTlsConfig;

use super::SyncHub;

/// Batches unacknowledged below which a batch goes that is not full: one being applied at
/// the parent and one waiting behind it.
const PARTIAL_IN_FLIGHT: usize = 2;

/// Tunables of the uplink.
#[derive(Debug, Clone)]
pub struct UplinkConfig {
    /// Most events per batch.
    pub batch_events: u64,
    /// Most bytes per batch.
    pub batch_bytes: usize,
    /// Batches sent and not yet acknowledged.
    pub window: usize,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// First delay after the parent refused the link for good (see `UplinkError::is_refusal`).
    pub refused_backoff_min: Duration,
    /// Longest delay between attempts the parent refuses.
    pub refused_backoff_max: Duration,
}

impl Default for UplinkConfig {
    fn default() -> Self {
        UplinkConfig {
            batch_events: 1000,
            batch_bytes: 1024 * 1024,
            // Live traffic comes in batches of a few events: a deep window keeps the link
            // busy while acknowledgements are on their way back.
            window: 32,
            backoff_min: Duration::from_millis(100),
            // A returning parent is reached within 0.8 s; full jitter still spreads the
            // children that reconnect together over that interval.
            backoff_max: Duration::from_millis(800),
            // A refused link waits for a person (a certificate, the tree, a restored journal):
            // asking again every second only fills both logs.
            refused_backoff_min: Duration::from_secs(30),
            refused_backoff_max: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum UplinkError {
    #[error("connect: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error("{}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Domain(#[from] crate::domain::DomainError),
}

impl UplinkError {
    /// The parent refused the link for a reason the same attempt cannot get past: who this
    /// node is (certificate, placement), what it sent (a rewritten journal, a malformed
    /// message) or which protocol it speaks.
    fn is_refusal(&self) -> bool {
        use tonic::Code::*;
        matches!(self, UplinkError::Status(s) if matches!(
            s.code(),
            PermissionDenied | Unauthenticated | InvalidArgument | FailedPrecondition | DataLoss
                | Unimplemented
        ))
    }

    /// The gRPC code name of a status error (`PERMISSION_DENIED`), or empty.
    fn code_name(&self) -> String {
        match self {
            UplinkError::Status(s) => code_name(s.code()).to_string(),
            _ => String::new(),
        }
    }
}

/// The canonical name of a gRPC code, as in the gRPC documentation.
pub(crate) fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Runs the uplink until the hub's shutdown token is cancelled.
pub async fn run(
    hub: SyncHub,
    parent_url: String,
    config: UplinkConfig,
    tls: Option<ClientTlsConfig>,
) {
    let mut attempt: u32 = 0;
    let mut failed: u32 = 0;
    let mut log = FailureLog::default();
    hub.app.links().parent(|s| {
        s.connected = false;
        s.since = Some(Utc::now());
    });
    loop {
        if hub.shutdown.is_cancelled() {
            return;
        }
        let started = Instant::now();
        let result = session(&hub, &parent_url, &config, tls.as_ref()).await;
        let opened = hub.app.links().parent_state().is_some_and(|s| s.connected);
        if started.elapsed() > Duration::from_secs(10) || opened {
            attempt = 0;
            failed = 0;
        }
        if opened {
            log.clear();
        }
        let refused = result.as_ref().err().is_some_and(UplinkError::is_refusal);
        if result.is_err() {
            failed = failed.saturating_add(1);
        }
        // A refusal that retrying cannot fix is tried again minutes apart, not every second.
        let (min, max) = if refused {
            (config.refused_backoff_min, config.refused_backoff_max)
        } else {
            (config.backoff_min, config.backoff_max)
        };
        let ceiling = min.saturating_mul(1u32 << attempt.min(10)).min(max);
        attempt = attempt.saturating_add(1);
        let delay = if refused {
            // Half fixed, half jitter: a refused child never comes back within the minimum.
            ceiling.mul_f64(rand::rng().random_range(0.5..=1.0))
        } else {
            // Full jitter: many children reconnecting at once spread over the whole interval.
            ceiling.mul_f64(rand::rng().random_range(0.0..=1.0))
        };
        hub.app.links().parent(|s| {
            s.connected = false;
            s.since = Some(Utc::now());
            s.refused = refused;
            s.failed_attempts = failed;
            s.next_attempt = chrono::Duration::from_std(delay)
                .ok()
                .map(|d| Utc::now() + d);
            match &result {
                Err(e) => {
                    s.last_error = e.to_string();
                    s.last_error_code = e.code_name();
                }
                Ok(()) => s.last_error_code.clear(),
            }
        });
        match &result {
            Ok(()) if hub.shutdown.is_cancelled() => return,
            Ok(()) => {
                log.clear();
                tracing::info!(parent = %parent_url, "parent link closed");
            }
            Err(e) => {
                log.failed(&parent_url, e, refused, failed, delay);
            }
        }
        tokio::select! {
            _ = hub.shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// How often the same failure is logged again while it lasts.
const SAME_FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);

/// Logs a failing uplink once per change of what fails, and at most once a minute while the
/// same failure lasts: an offline commune would otherwise log every reconnect attempt.
#[derive(Default)]
struct FailureLog {
    last: Option<(String, Instant)>,
}

impl FailureLog {
    fn clear(&mut self) {
        self.last = None;
    }

    fn failed(
        &mut self,
        parent: &str,
        error: &UplinkError,
        refused: bool,
        attempts: u32,
        retry_in: Duration,
    ) -> bool {
        let what = error.to_string();
        let due = match &self.last {
            Some((last, at)) => *last != what || at.elapsed() >= SAME_FAILURE_LOG_EVERY,
            None => true,
        };
        if !due {
            return false;
        }
        self.last = Some((what, Instant::now()));
        let retry_in = format!("{:.1}s", retry_in.as_secs_f64());
        if refused {
            tracing::error!(%parent, %error, attempts, %retry_in,
                "the parent refuses this node's link; a person must act (see `tiepdan sync status`)");
        } else {
            tracing::warn!(%parent, %error, attempts, %retry_in, "parent link failed");
        }
        true
    }
}

mod session;
use session::session;

#[cfg(test)]
mod tests;
