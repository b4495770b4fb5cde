//! `tiepdan report --form`: the `.xlsx` a province files, opened by an independent reader
//! (Python's openpyxl, `tests/python/check_xlsx.py`) and checked cell by cell against the
//! form the node answered — header block and dates, merged group headers, MS row, figures as
//! numbers, empty unrecorded columns, the notes line naming a commune not synced; the CSV for
//! Vietnamese-locale Excel (BOM, `;`, decimal comma); the table with Vietnamese numbers.

mod common;

use std::process::Command;

use serde_json::json;
use tiepdan_proto::v1 as pb;
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};

use common::text;

async fn form(url: &str, code: &str) -> pb::FormReport {
    let channel = tonic::transport::Channel::from_shared(url.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    pb::report_service_client::ReportServiceClient::new(channel)
        .get_form_report(pb::GetFormReportRequest {
            unit_code: String::new(),
            period: "2026-Q3".into(),
            calendar: pb::PeriodCalendar::Calendar as i32,
            form: code.into(),
        })
        .await
        .unwrap_or_else(|e| panic!("form: {e}"))
        .into_inner()
        .report
        .unwrap_or_else(|| panic!("no report"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_in_excel_reads_back_cell_by_cell() {
    let province = TestNode::start(
        Backend::Sqlite,
        unit("01", "Thành phố Hà Nội", UnitLevel::Province, None),
    )
    .await;
    let commune = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Phường Sơn Tây", UnitLevel::Ward, None),
        Some(province.url()),
        |_| {},
    )
    .await;
    let url = province.url();
    let ch = province.channel().await;
    // A complaint within the province's competence, resolved with 36.500.000 đ to recover.
    common::resolved_complaint(
        &ch,
        "x",
        [(2026, 7, 2), (2026, 7, 5), (2026, 8, 20)],
        pb::CaseOutcome::ComplaintPartlyCorrect,
        36_500_000,
        120.5,
    )
    .await;
    // The commune linked (the province places it), then is cut off: its row is stale and the
    // notes say so.
    let mut sync = pb::sync_service_client::SyncServiceClient::new(ch.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status = sync
            .get_sync_status(pb::GetSyncStatusRequest {})
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner();
        if status
            .children
            .iter()
            .any(|c| c.unit_code == "09574" && c.connected)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the commune never linked: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(commune.stop().await);

    let report = form(&url, "03/GQKN").await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let xlsx = dir.path().join("03-GQKN.xlsx");
    let written = common::tiepdan(
        &url,
        &[],
        &[
            "report",
            "--form",
            "03/GQKN",
            "--period",
            "2026-Q3",
            "--calendar",
            "--xlsx",
            &xlsx.display().to_string(),
        ],
    )
    .await;
    assert!(written.status.success(), "{}", text(&written.stderr));
    let label = |row: &pb::FormRow| {
        let u = row.unit.clone().unwrap_or_default();
        match pb::FormRowKind::try_from(row.kind) {
            Ok(pb::FormRowKind::Own) => format!("{} {} (tại đơn vị)", u.code, u.name),
            Ok(pb::FormRowKind::Total) => format!("Tổng cộng {}", u.name),
            _ => format!("{} {}", u.code, u.name),
        }
    };
    let expected = json!({
        "code": report.code,
        "title": report.title,
        "unit_name": report.unit.clone().unwrap_or_default().name,
        "start": "01/07/2026",
        "end": "30/09/2026",
        "columns": report.columns.iter().map(|c| json!({
            "number": c.number, "group": c.group, "label": c.label, "ms": c.ms,
        })).collect::<Vec<_>>(),
        "rows": report.rows.iter().map(|r| json!({
            "label": label(r),
            "values": r.cells.iter().map(|c| c.value).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    // The figures the test seeded are in the form the file is checked against.
    let total = report.rows.last().unwrap_or_else(|| panic!("no rows"));
    assert_eq!(
        total.cells[9].value,
        Some(1.0),
        "one decision, partly correct"
    );
    assert_eq!(
        total.cells[12].value,
        Some(36.5),
        "36.500.000 đ in triệu đồng"
    );
    assert_eq!(total.cells[13].value, Some(120.5));
    assert_eq!(total.cells[14].value, None, "returns are not recorded");
    assert!(
        report.notes.iter().any(|n| n.contains("09574")),
        "the cut-off commune is named: {:?}",
        report.notes
    );
    let expected_path = dir.path().join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/check_xlsx.py");
    let checked = Command::new("python3")
        .arg(script)
        .arg(&xlsx)
        .arg(&expected_path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    assert!(
        checked.status.success(),
        "openpyxl found differences (pip install -r tests/python/requirements.txt):\n{}{}",
        text(&checked.stdout),
        text(&checked.stderr)
    );
    println!("{}", text(&checked.stdout));

    // CSV for Excel in a Vietnamese locale.
    let csv = common::tiepdan(
        &url,
        &[],
        &[
            "report",
            "--form",
            "03/GQKN",
            "--period",
            "2026-Q3",
            "--calendar",
            "--csv",
        ],
    )
    .await;
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    let csv = text(&csv.stdout);
    assert!(csv.starts_with('\u{feff}'), "a BOM first");
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert!(lines[3].contains("01/07/2026") && lines[3].contains("30/09/2026"));
    let ms: Vec<&str> = lines[5].split(';').collect();
    assert_eq!(ms[0], "MS");
    assert_eq!(ms.len(), report.columns.len() + 1);
    let total_line: Vec<&str> = lines[5 + report.rows.len()].split(';').collect();
    assert_eq!(total_line[13], "36,5", "decimal comma: {total_line:?}");
    assert_eq!(total_line[15], "", "not recorded: empty, not 0");

    // The table, with Vietnamese numbers.
    let table = common::tiepdan(
        &url,
        &[],
        &[
            "report",
            "--form",
            "03/GQKN",
            "--period",
            "2026-Q3",
            "--calendar",
        ],
    )
    .await;
    let table = text(&table.stdout);
    assert!(
        table.contains("Số liệu tính từ ngày 01/07/2026 đến ngày 30/09/2026"),
        "{table}"
    );
    assert!(table.contains("36,5") && table.contains("120,5"), "{table}");
    drop(province.stop().await);
}
