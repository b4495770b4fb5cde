//! `tiepdan report`: the statistical report as people read it — Vietnamese dates and numbers
//! (or English with `--lang en`), unit names never cut mid-word, no 0 under petition types for
//! reception (which has no type), no "0 / 0 = 0 %"; and CSV for Vietnamese-locale Excel.

mod common;

use tiepdan_proto::v1 as pb;
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_tests::{Backend, TestNode, unit};

use common::text;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_reads_as_its_language_writes() {
    let node = TestNode::start(
        Backend::Sqlite,
        unit("269", "Thị xã Sơn Tây", UnitLevel::District, None),
    )
    .await;
    let ch = node.channel().await;
    let url = node.url();
    for (i, persons) in [1u32, 3, 7].into_iter().enumerate() {
        pb::reception_service_client::ReceptionServiceClient::new(ch.clone())
            .record_visit(pb::RecordVisitRequest {
                request_id: format!("v{i}"),
                visit_time: common::ts(2026, 7, 3 + i as u32),
                kind: pb::ReceptionKind::Regular as i32,
                receiver_role: pb::ReceiverRole::Staff as i32,
                receiver_name: String::new(),
                persons,
                matter: pb::MatterKind::First as i32,
                action: pb::ReceptionAction::Accepted as i32,
                summary: "Hỏi về đất".into(),
                schedule_entry_id: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    common::resolved_complaint(
        &ch,
        "x",
        [(2026, 7, 2), (2026, 7, 5), (2026, 8, 1)],
        pb::CaseOutcome::ComplaintCorrect,
        36_500_000,
        12.5,
    )
    .await;

    let run = |args: Vec<&'static str>| {
        let url = url.clone();
        async move {
            let mut all = vec!["report", "--period", "2026-Q3", "--calendar"];
            all.extend(args);
            let o = common::tiepdan(&url, &[], &all).await;
            assert!(o.status.success(), "{}", text(&o.stderr));
            text(&o.stdout)
        }
    };
    let vi = run(vec![]).await;
    assert!(vi.contains("(01/07/2026 – 30/09/2026)"), "{vi}");
    assert!(vi.contains("36.500.000") && vi.contains("12,5"), "{vi}");
    assert!(!vi.contains("0 / 0"), "no rate of nothing: {vi}");
    // The unit's name is wrapped between words: each word whole on some header line.
    assert!(vi.contains("269 Thị xã Sơn") && vi.contains("Tây"), "{vi}");
    assert!(!vi.contains("Sơn T\n") && !vi.contains("Sơn T "), "{vi}");
    // Visits by petition type: a dash, not 0.
    let visits = vi
        .lines()
        .find(|l| l.contains("Lượt tiếp"))
        .unwrap_or_default();
    assert!(visits.contains('3') && visits.contains('—'), "{visits}");
    let en = run(vec!["--lang", "en"]).await;
    assert!(en.contains("36,500,000") && en.contains("12.5"), "{en}");
    assert!(en.contains("2026-07-01"), "{en}");
    let csv = run(vec!["--csv"]).await;
    assert!(csv.starts_with('\u{feff}'), "a BOM first");
    let money = csv
        .lines()
        .find(|l| l.contains("Tiền phải thu hồi"))
        .unwrap_or_default();
    assert_eq!(money.split(';').nth(2), Some("36500000"), "{money}");
    let land = csv
        .lines()
        .find(|l| l.contains("Đất phải thu hồi"))
        .unwrap_or_default();
    assert_eq!(land.split(';').nth(2), Some("12,5"), "{land}");
    drop(node.stop().await);
}
