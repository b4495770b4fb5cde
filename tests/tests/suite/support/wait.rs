//! Bounded waiting: the only way the suites wait for something to happen.

use super::*;

/// How long a bounded wait lasts before the test fails with what it was waiting for.
pub const WAIT: Duration = Duration::from_secs(120);

/// Polls `probe` until it succeeds and returns what it found; fails after `WAIT` with the
/// last reason it gave.
pub async fn wait_for<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    wait_polling(what, Duration::from_millis(40), probe).await
}

/// [`wait_for`], polling every `every`: for a test that must catch a state that passes
/// quickly (a stream still in flight).
pub async fn wait_polling<T, F, Fut>(what: &str, every: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let why = match probe().await {
            Ok(found) => return found,
            Err(why) => why,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what} after {WAIT:?}: {why}"
        );
        tokio::time::sleep(every).await;
    }
}

/// Polls `probe` for `period` and fails as soon as it does not hold: for what a test asserts
/// does *not* happen (an absence), which can only be watched for a while, never proven.
pub async fn stays_for<F, Fut>(what: &str, period: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let end = tokio::time::Instant::now() + period;
    loop {
        if let Err(why) = probe().await {
            panic!("{what} stopped holding: {why}");
        }
        if tokio::time::Instant::now() >= end {
            return;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Waits until no node of `channels` (unit code, channel) has mail waiting to cross a link.
pub async fn wait_outboxes_empty(channels: &[(String, Channel)]) {
    wait_for("every outbox to empty", || async move {
        let mut pending = Vec::new();
        for (code, ch) in channels {
            let s = sync_status(ch).await;
            if let Some(p) = &s.parent
                && p.mail_pending > 0
            {
                pending.push(format!("{code}→parent: {}", p.mail_pending));
            }
            for c in &s.children {
                if c.mail_pending > 0 {
                    pending.push(format!("{code}→{}: {}", c.unit_code, c.mail_pending));
                }
            }
        }
        if pending.is_empty() {
            Ok(())
        } else {
            Err(pending.join(", "))
        }
    })
    .await;
}

/// Waits until the nodes of `links` (child, parent) are at rest: no mail waiting anywhere and
/// each parent holding its child's whole journal; twice, as mail delivered writes events and
/// events synced can send mail.
pub async fn settle_links(links: &[(&TestNode, &TestNode)]) {
    let mut channels: Vec<(String, Channel)> = Vec::new();
    for (child, parent) in links {
        for n in [child, parent] {
            if !channels.iter().any(|(code, _)| *code == n.unit.code) {
                channels.push((n.unit.code.clone(), n.channel().await));
            }
        }
    }
    for _ in 0..2 {
        wait_outboxes_empty(&channels).await;
        for (child, parent) in links {
            journal_synced(child.running(), parent.running(), Duration::from_secs(30))
                .await
                .unwrap_or_else(|e| {
                    panic!("{} synced to {}: {e:?}", child.unit.code, parent.unit.code)
                });
        }
    }
}
