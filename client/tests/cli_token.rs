//! The `tiepdan` binary against a node that checks operator tokens: `--token` (or
//! `TIEPDAN_TOKEN`) is sent on every call; without it the refusal says why.

mod common;

use tiepdan_server::auth::{self, Claims, Role, Secret};
use tiepdan_tests::{Backend, TestDb, TestNode};

use common::{text, tiepdan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_sends_its_token() {
    let secret = Secret::generate();
    let for_node = secret.clone();
    let node = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        tiepdan_tests::unit(
            "269",
            "Thị xã Sơn Tây",
            tiepdan_server::domain::model::UnitLevel::District,
            None,
        ),
        None,
        |c| c.auth = Some(for_node),
    )
    .await;
    let url = node.url();
    let now = chrono::Utc::now().timestamp();
    let token = |role| {
        auth::issue(
            &secret,
            &Claims {
                subject: "cli test".into(),
                role,
                unit: "269".into(),
                issued_at: now,
                expires_at: now + 600,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let head = token(Role::Head);

    let shown = tiepdan(
        &url,
        &[],
        &["--token", &head, "--format", "json", "unit", "show"],
    )
    .await;
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert!(
        text(&shown.stdout).contains("\"269\""),
        "{}",
        text(&shown.stdout)
    );

    let from_env = tiepdan(
        &url,
        &[("TIEPDAN_TOKEN", &head)],
        &["--format", "json", "sync", "status"],
    )
    .await;
    assert!(from_env.status.success(), "{}", text(&from_env.stderr));

    let without = tiepdan(&url, &[], &["unit", "show"]).await;
    assert!(!without.status.success());
    assert!(
        text(&without.stderr).contains("UNAUTHENTICATED"),
        "{}",
        text(&without.stderr)
    );

    let reporter = token(Role::Reporter);
    let refused = tiepdan(&url, &[], &["--token", &reporter, "unit", "show"]).await;
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("PERMISSION_DENIED"), "{stderr}");
    assert!(
        !stderr.contains(&reporter),
        "the token is never echoed: {stderr}"
    );
    node.stop().await;
}
