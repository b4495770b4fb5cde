//! A Prometheus text endpoint (`--metrics-listen`): events applied, lag per child, open
//! streams. A deliberately tiny HTTP/1.1 responder: one GET, one answer, connection closed.

use std::fmt::Write as _;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::SyncHub;

/// Serves metrics on `listener` until shutdown.
pub async fn serve(listener: TcpListener, hub: SyncHub) {
    loop {
        let accepted = tokio::select! {
            _ = hub.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut socket, _)) = accepted else {
            continue;
        };
        let body = render(&hub);
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            // Read the request head (bounded); the answer is the same for any path.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), socket.read(&mut buf))
                .await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// The metrics text.
pub fn render(hub: &SyncHub) -> String {
    let mut out = String::new();
    let children = hub.app.links().child_states();
    let _ = writeln!(
        out,
        "# HELP tiepdan_events_applied_total Journal events applied from a child's link."
    );
    let _ = writeln!(out, "# TYPE tiepdan_events_applied_total counter");
    for c in &children {
        let _ = writeln!(
            out,
            "tiepdan_events_applied_total{{child=\"{}\"}} {}",
            c.unit_code, c.events_applied
        );
    }
    let _ = writeln!(
        out,
        "# HELP tiepdan_child_lag_events Events a child still holds that this node lacks."
    );
    let _ = writeln!(out, "# TYPE tiepdan_child_lag_events gauge");
    for c in &children {
        let _ = writeln!(
            out,
            "tiepdan_child_lag_events{{child=\"{}\"}} {}",
            c.unit_code, c.events_behind
        );
    }
    let _ = writeln!(out, "# HELP tiepdan_open_streams Child streams open now.");
    let _ = writeln!(out, "# TYPE tiepdan_open_streams gauge");
    let _ = writeln!(
        out,
        "tiepdan_open_streams {}",
        hub.app.links().open_streams()
    );
    let store = hub.app.store();
    let _ = writeln!(
        out,
        "# HELP tiepdan_store_writable Whether the node's writes commit (0 from a failed write until one commits)."
    );
    let _ = writeln!(out, "# TYPE tiepdan_store_writable gauge");
    let _ = writeln!(
        out,
        "tiepdan_store_writable {}",
        u8::from(*store.writable().borrow())
    );
    let _ = writeln!(
        out,
        "# HELP tiepdan_store_failed_commits_total Write transactions whose commit failed."
    );
    let _ = writeln!(out, "# TYPE tiepdan_store_failed_commits_total counter");
    let _ = writeln!(
        out,
        "tiepdan_store_failed_commits_total {}",
        store.failed_commits()
    );
    if let Some(p) = hub.app.links().parent_state() {
        let _ = writeln!(
            out,
            "# HELP tiepdan_parent_connected Whether the link to the parent is open."
        );
        let _ = writeln!(out, "# TYPE tiepdan_parent_connected gauge");
        let _ = writeln!(out, "tiepdan_parent_connected {}", u8::from(p.connected));
        let _ = writeln!(
            out,
            "# HELP tiepdan_parent_lag_events Events not yet sent to the parent."
        );
        let _ = writeln!(out, "# TYPE tiepdan_parent_lag_events gauge");
        let _ = writeln!(out, "tiepdan_parent_lag_events {}", p.events_behind);
    }
    out
}
