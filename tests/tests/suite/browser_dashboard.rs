//! The dashboard in a real browser: a town guarded by tokens serves the page
//! (`--http-listen`) over two wards, one of them cut off; `tests/browser/dashboard.mjs` drives
//! Debian's Chromium headless through playwright-core (no browser download) and checks that
//! the page shows what GetReport and ListOverdueItems answer here, that the cut ward shows as
//! offline, that a page without a valid token shows no figure (a reporter's, no overdue list),
//! and that a visit recorded while
//! the page is open reaches it through WatchReport; that a form of Thông tư 06/2025 shows
//! every cell GetFormReport answers (unrecorded columns empty) and that its "Tải .xlsx" saves
//! the bytes `/forms.xlsx` serves, which openpyxl reads back cell by cell
//! (`tests/python/check_xlsx.py`). Screenshots go to `target/screenshots/`.
//! Needs `node`, `npm ci --prefix tests/browser` and `/usr/bin/chromium` (or
//! `TIEPDAN_CHROMIUM`); `.ci/run` installs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tiepdan_client::Bearer;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::server::{Claims, Role, Secret, UnitLevel, auth, tls, wait_synced};
use crate::support::{
    Backend, TestDb, TestNode, accept_req, local, pb, receive_req, record_mix, unit, visit_request,
    wait_for,
};

type Guarded = InterceptedService<Channel, Bearer>;

const PERIOD: &str = "2019";
/// The form the page previews and downloads, for a period the forms cover (from 2025-09-30).
const FORM: &str = "03/GQKN";
const FORM_PERIOD: &str = "2026-Q3";
const TOWN: &str = "269";
const WARDS: [(&str, &str); 2] = [("09574", "Phường Lê Lợi"), ("09577", "Phường Phú Thịnh")];
/// The ward that is cut off before the page opens.
const CUT: &str = "09577";

fn token(secret: &Secret, role: Role) -> String {
    token_of(secret, role, TOWN)
}

/// A token of `role` for `unit`'s node, valid for an hour.
fn token_of(secret: &Secret, role: Role, unit: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    auth::issue(
        secret,
        &Claims {
            subject: format!("browser test {role}"),
            role,
            unit: unit.to_string(),
            issued_at: now - 60,
            expires_at: now + 3600,
        },
    )
    .unwrap()
}

fn reports(ch: &Channel, token: &str) -> pb::report_service_client::ReportServiceClient<Guarded> {
    pb::report_service_client::ReportServiceClient::with_interceptor(
        ch.clone(),
        Bearer::new(token).unwrap(),
    )
}

fn petitions(
    ch: &Channel,
    token: &str,
) -> pb::petition_service_client::PetitionServiceClient<Guarded> {
    pb::petition_service_client::PetitionServiceClient::with_interceptor(
        ch.clone(),
        Bearer::new(token).unwrap(),
    )
}

async fn report(ch: &Channel, token: &str, scope: pb::ReportScope) -> pb::Report {
    reports(ch, token)
        .get_report(pb::GetReportRequest {
            unit_code: String::new(),
            period: PERIOD.into(),
            scope: scope as i32,
            calendar: pb::PeriodCalendar::Unspecified as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}

/// The figures of one row as the page shows them (its `data-field` names).
fn figures(t: &pb::Totals) -> serde_json::Value {
    serde_json::json!({
        "visits": t.visits,
        "persons": t.persons,
        "crowdGroups": t.crowd_groups,
        "petitionsReceived": t.petitions_received,
        "petitionsAccepted": t.petitions_accepted,
        "casesToResolve": t.cases_to_resolve,
        "casesResolved": t.cases_resolved,
        "resolutionRate": t.resolution_rate.as_ref().map_or(0, |r| r.percent),
        "casesOverdue": t.cases_overdue,
    })
}

/// What the page must show, read from the town's gRPC port with the same token.
async fn expected(ch: &Channel, token: &str) -> serde_json::Value {
    let subtree = report(ch, token, pb::ReportScope::Subtree).await;
    let own = report(ch, token, pb::ReportScope::Unit).await;
    let mut rows = serde_json::Map::new();
    for row in &subtree.children {
        let code = row.unit.as_ref().unwrap().code.clone();
        rows.insert(code, figures(row.totals.as_ref().unwrap()));
    }
    let mut overdue = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = petitions(ch, token)
            .list_overdue_items(pb::ListOverdueItemsRequest {
                as_of_time: None,
                page_size: 1000,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        for item in page.items {
            let id = match item.item.unwrap() {
                pb::overdue_item::Item::Petition(p) => p.id,
                pb::overdue_item::Item::Case(c) => c.id,
            };
            overdue.push(serde_json::json!({ "id": id, "days": item.days_overdue }));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert!(
        overdue.len() >= 2 && rows.len() == WARDS.len(),
        "the seed must give the page something to show"
    );
    serde_json::json!({
        "rows": rows,
        "own": figures(own.totals.as_ref().unwrap()),
        "total": figures(subtree.totals.as_ref().unwrap()),
        "overdue": overdue,
        "offline": [CUT],
        "online": WARDS.iter().map(|(code, _)| *code).filter(|c| *c != CUT).collect::<Vec<_>>(),
    })
}

async fn form_report(ch: &Channel, token: &str) -> pb::FormReport {
    reports(ch, token)
        .get_form_report(pb::GetFormReportRequest {
            unit_code: String::new(),
            period: FORM_PERIOD.into(),
            calendar: pb::PeriodCalendar::Calendar as i32,
            form: FORM.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}

/// What the first column of a form says of a row (the .xlsx's and the page's label).
fn form_label(row: &pb::FormRow) -> String {
    let u = row.unit.clone().unwrap_or_default();
    match pb::FormRowKind::try_from(row.kind) {
        Ok(pb::FormRowKind::Own) => format!("{} {} (tại đơn vị)", u.code, u.name),
        Ok(pb::FormRowKind::Total) => format!("Tổng cộng {}", u.name),
        _ => format!("{} {}", u.code, u.name),
    }
}

/// The form as the page must show it, and as `tests/python/check_xlsx.py` checks the file.
fn form_expected(report: &pb::FormReport) -> serde_json::Value {
    let day = |iso: &str| {
        chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
            .unwrap()
            .format("%d/%m/%Y")
            .to_string()
    };
    serde_json::json!({
        "code": report.code,
        "title": report.title,
        "unit_name": report.unit.clone().unwrap_or_default().name,
        "start": day(&report.start_date),
        "end": day(&report.end_date),
        "notes": report.notes,
        "columns": report.columns.iter().map(|c| serde_json::json!({
            "number": c.number, "group": c.group, "label": c.label, "ms": c.ms,
            "recorded": c.recorded,
        })).collect::<Vec<_>>(),
        "rows": report.rows.iter().map(|r| serde_json::json!({
            "kind": match pb::FormRowKind::try_from(r.kind) {
                Ok(pb::FormRowKind::Own) => "own",
                Ok(pb::FormRowKind::Total) => "total",
                _ => "child",
            },
            "unit": r.unit.clone().unwrap_or_default().code,
            "label": form_label(r),
            "values": r.cells.iter().map(|c| c.value).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// A complaint of 2026 at the town, accepted and resolved with money and land to recover:
/// the figures of 03/GQKN for 2026-Q3.
async fn record_resolved_complaint(ch: &Channel, token: &str) {
    let petition = petitions(ch, token)
        .receive_petition(receive_req(
            local(2026, 7, 2, 9, 0, 0),
            Some(pb::Classification {
                r#type: pb::PetitionType::Complaint as i32,
                field: pb::Field::LandHousing as i32,
                complaint_round: 1,
                eligibility: pb::Eligibility::Eligible as i32,
                jurisdiction: pb::Jurisdiction::Within as i32,
                has_evidence: true,
            }),
        ))
        .await
        .unwrap()
        .into_inner()
        .petition
        .unwrap();
    let case = petitions(ch, token)
        .accept_petition(accept_req(&petition.id, local(2026, 7, 5, 9, 0, 0), false))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    pb::case_service_client::CaseServiceClient::with_interceptor(
        ch.clone(),
        Bearer::new(token).unwrap(),
    )
    .resolve_case(pb::ResolveCaseRequest {
        request_id: "browser-resolve".into(),
        case_id: case.id,
        outcome: pb::CaseOutcome::ComplaintPartlyCorrect as i32,
        decision_number: "12/QĐ-UBND".into(),
        decision_time: Some(prost_types::Timestamp {
            seconds: local(2026, 8, 20, 9, 0, 0).timestamp(),
            nanos: 0,
        }),
        money_to_recover_vnd: 36_500_000,
        land_to_recover_m2: 120.5,
    })
    .await
    .unwrap();
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_what_the_api_answers() {
    let secret = Secret::generate();
    let for_town = secret.clone();
    let town = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit(TOWN, "Thị xã Sơn Tây", UnitLevel::District, None),
        None,
        |c| {
            c.auth = Some(for_town);
            c.http_listen = Some("127.0.0.1:0".parse().unwrap());
        },
    )
    .await;
    let page_url = format!("http://{}/", town.running().page_addr.unwrap());
    let mut wards = Vec::new();
    for (code, name) in WARDS {
        wards.push(
            TestNode::start_with(
                TestDb::new(Backend::Sqlite).await,
                unit(code, name, UnitLevel::Ward, None),
                Some(town.url()),
                |_| {},
            )
            .await,
        );
    }
    // Each ward records a mix of 2019 (pending petitions among it, long overdue); the town
    // records a few visits and pending petitions of its own through its guarded port.
    for (i, ward) in wards.iter().enumerate() {
        record_mix(
            &ward.channel().await,
            &format!("w{i}"),
            12 + 3 * i as u32,
            20,
        )
        .await;
    }
    let head = token(&secret, Role::Head);
    let town_ch = town.channel().await;
    let mut reception = pb::reception_service_client::ReceptionServiceClient::with_interceptor(
        town_ch.clone(),
        Bearer::new(&head).unwrap(),
    );
    for i in 0..4 {
        reception
            .record_visit(visit_request("town", i))
            .await
            .unwrap();
    }
    for day in [3, 20] {
        petitions(&town_ch, &head)
            .receive_petition(receive_req(local(2019, 10, day, 9, 0, 0), None))
            .await
            .unwrap();
    }
    record_resolved_complaint(&town_ch, &head).await;
    for ward in &wards {
        wait_synced(ward.running(), town.running(), Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{} synced: {e:?}", ward.unit.code));
    }
    let cut = wards.pop().unwrap();
    assert_eq!(cut.unit.code, CUT);
    cut.stop().await;
    let sync = pb::sync_service_client::SyncServiceClient::with_interceptor(
        town_ch.clone(),
        Bearer::new(&head).unwrap(),
    );
    wait_for("the town to see the ward cut off", || {
        let mut sync = sync.clone();
        async move {
            let status = sync
                .get_sync_status(pb::GetSyncStatusRequest {})
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            match status.children.iter().find(|l| l.unit_code == CUT) {
                Some(link) if !link.connected => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;

    let reporter = token(&secret, Role::Reporter);
    let other_unit = token_of(&secret, Role::Head, WARDS[0].0);
    let other_secret = Secret::generate();
    let forged = token(&other_secret, Role::Head);
    let screenshots = std::env::var_os("TIEPDAN_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/screenshots"));
    std::fs::create_dir_all(&screenshots).unwrap();
    let brief = serde_json::json!({
        "url": page_url,
        "period": PERIOD,
        "token": head,
        "forged": forged,
        "reporter": reporter,
        "otherUnit": other_unit,
        "screenshots": screenshots,
        "expected": expected(&town_ch, &head).await,
    });
    let brief = {
        let form = form_report(&town_ch, &head).await;
        let total = form.rows.last().unwrap();
        assert!(
            total
                .cells
                .iter()
                .any(|c| c.value.is_some_and(|v| v.fract() != 0.0))
                && form.columns.iter().any(|c| !c.recorded),
            "the seed must give the form a decimal figure and an unrecorded column"
        );
        let mut brief = brief;
        brief["form"] = serde_json::json!({
            "code": FORM,
            "period": FORM_PERIOD,
            "file": "03-GQKN-2026-Q3.xlsx",
            "expected": form_expected(&form),
        });
        brief
    };
    let brief_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(brief_file.path(), brief.to_string()).unwrap();

    let script = workspace().join("tests/browser/dashboard.mjs");
    if !workspace()
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        panic!("playwright-core is missing: run `npm ci --prefix tests/browser`");
    }
    let mut child = Command::new("node")
        .arg(&script)
        .arg(brief_file.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node {}: {e}", script.display()));
    let mut to_script = child.stdin.take().unwrap();
    // The script's lines come through a channel; it bounds its own run time (a timer ends it),
    // so the blocking reader ends too.
    let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<String>(64);
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("dashboard.mjs: {line}");
            if lines_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let mut live_checked = false;
    let mut downloaded = None;
    while let Some(line) = lines.recv().await {
        if let Some(path) = line.trim().strip_prefix("DOWNLOADED ") {
            downloaded = Some(PathBuf::from(path));
        }
        if line.trim() == "WAITING live" {
            // A visit recorded now must reach the open page through WatchReport.
            reception
                .record_visit(visit_request("town-live", 0))
                .await
                .unwrap();
            let now = expected(&town_ch, &head).await;
            writeln!(
                to_script,
                "{}",
                serde_json::json!({ "total": now["total"], "own": now["own"] })
            )
            .unwrap();
            to_script.flush().unwrap();
            live_checked = true;
        }
    }
    drop(to_script);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let _ = reader.join();
    assert!(
        status.success(),
        "tests/browser/dashboard.mjs failed ({status}); screenshots in {} (it needs Chromium at \
         /usr/bin/chromium or TIEPDAN_CHROMIUM, and `npm ci --prefix tests/browser`)",
        screenshots.display()
    );
    assert!(live_checked, "the script never reached the live check");
    // The file the page saved, read back by an independent reader against GetFormReport.
    let downloaded = downloaded.expect("the script saved no .xlsx");
    let expected_form = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        expected_form.path(),
        form_expected(&form_report(&town_ch, &head).await).to_string(),
    )
    .unwrap();
    let checked = Command::new("python3")
        .arg(workspace().join("tests/python/check_xlsx.py"))
        .arg(&downloaded)
        .arg(expected_form.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    assert!(
        checked.status.success(),
        "openpyxl found differences in the downloaded form (pip install -r \
         tests/python/requirements.txt):\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    print!("{}", String::from_utf8_lossy(&checked.stdout));
    println!("screenshots in {}", screenshots.display());
    for ward in wards {
        ward.stop().await;
    }
    town.stop().await;
}

/// One HTTP/1.1 exchange on a fresh connection, as a browser would make it; the whole answer.
async fn http(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{head}\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The page's port without a browser: the files, and gRPC-Web calls that only reads pass, each
/// behind the same token check as the gRPC port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_port_serves_reads_behind_tokens_only() {
    let secret = Secret::generate();
    let for_town = secret.clone();
    let town = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit(TOWN, "Thị xã Sơn Tây", UnitLevel::District, None),
        None,
        |c| {
            c.auth = Some(for_town);
            c.http_listen = Some("127.0.0.1:0".parse().unwrap());
        },
    )
    .await;
    let addr = town.running().page_addr.unwrap();
    let index = http(addr, "GET / HTTP/1.1", b"").await;
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(index.contains("content-security-policy:") && index.contains("/app.js"));
    for path in ["/app.js", "/app.css"] {
        let file = http(addr, &format!("GET {path} HTTP/1.1"), b"").await;
        assert!(file.starts_with("HTTP/1.1 200"), "{path}: {file}");
    }
    let missing = http(addr, "GET /Cargo.toml HTTP/1.1", b"").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

    // An empty message in gRPC-Web framing: every request type's defaults.
    let empty = [0u8, 0, 0, 0, 0];
    let call = |path: &str, token: Option<&str>| {
        let auth = token.map_or(String::new(), |t| format!("\r\nauthorization: Bearer {t}"));
        format!("POST {path} HTTP/1.1\r\ncontent-type: application/grpc-web+proto{auth}")
    };
    let head = token(&secret, Role::Head);
    let read = "/tiepdan.v1.SyncService/GetSyncStatus";
    let answer = http(addr, &call(read, None), &empty).await;
    assert!(answer.contains("grpc-status: 16"), "no token: {answer}");
    let answer = http(addr, &call(read, Some(&head)), &empty).await;
    // The unit's code in the message, the status in the trailer frame at the body's end.
    assert!(
        answer.contains(TOWN) && answer.contains("grpc-status:0"),
        "head: {answer}"
    );
    // A form: over gRPC-Web with a token, and as the .xlsx under the same token rules.
    let form_call = "/tiepdan.v1.ReportService/GetFormReport";
    let answer = http(addr, &call(form_call, None), &empty).await;
    assert!(
        answer.contains("grpc-status: 16"),
        "form, no token: {answer}"
    );
    let xlsx = |token: Option<&str>| {
        let auth = token.map_or(String::new(), |t| format!("\r\nauthorization: Bearer {t}"));
        format!("GET /forms.xlsx?form=03%2FGQKN&period=2026-Q3&calendar=calendar HTTP/1.1{auth}")
    };
    let other_unit = token_of(&secret, Role::Head, WARDS[0].0);
    let forged = token(&Secret::generate(), Role::Head);
    for (who, token, status) in [
        ("no token", None, "401"),
        ("a forged token", Some(forged.as_str()), "401"),
        ("another unit's token", Some(other_unit.as_str()), "403"),
    ] {
        let answer = http(addr, &xlsx(token), b"").await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")) && !answer.contains("PK\u{3}\u{4}"),
            "{who}: {answer}"
        );
    }
    for role in [Role::Head, Role::Reporter] {
        let answer = http(addr, &xlsx(Some(&token(&secret, role))), b"").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{role}: {answer}");
        assert!(
            answer.contains(
                "content-type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            ) && answer
                .contains("content-disposition: attachment; filename=\"03-GQKN-2026-Q3.xlsx\"")
                && answer.contains("\r\n\r\nPK\u{3}\u{4}"),
            "{role}: {}",
            answer.split("\r\n\r\n").next().unwrap_or_default()
        );
    }
    let bad = http(addr, "GET /forms.xlsx?period=2026-Q3 HTTP/1.1", b"").await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let post = http(addr, &xlsx(Some(&head)).replacen("GET", "POST", 1), b"").await;
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    for write in [
        "/tiepdan.v1.ReceptionService/RecordVisit",
        "/tiepdan.v1.UnitService/RegisterUnit",
        "/tiepdan.v1.UnitService/GetUnit",
        "/tiepdan.v1.SyncService/Link",
    ] {
        let answer = http(addr, &call(write, Some(&head)), &empty).await;
        assert!(answer.contains("grpc-status: 12"), "{write}: {answer}");
    }
    town.stop().await;
}

/// Over TLS the page's port presents the node's certificate (a client trusting the tree's CA
/// reads through it with a token) and still serves the page's reads only; plaintext is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_port_speaks_the_nodes_tls() {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
    let pki = tempfile::tempdir().unwrap();
    tls::init_ca(pki.path(), "test tree").unwrap();
    tls::issue(pki.path(), TOWN, &[]).unwrap();
    let files = tls::TlsFiles {
        cert: pki.path().join(format!("{TOWN}.pem")),
        key: pki.path().join(format!("{TOWN}.key")),
        ca: pki.path().join("ca.pem"),
    };
    let node_tls = tls::load(&files).unwrap();
    let secret = Secret::generate();
    let for_town = secret.clone();
    let town = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit(TOWN, "Thị xã Sơn Tây", UnitLevel::District, None),
        None,
        |c| {
            c.tls = Some(node_tls);
            c.auth = Some(for_town);
            c.http_listen = Some("127.0.0.1:0".parse().unwrap());
        },
    )
    .await;
    let addr = town.running().page_addr.unwrap();
    let ca = Certificate::from_pem(std::fs::read_to_string(&files.ca).unwrap());
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(ClientTlsConfig::new().ca_certificate(ca))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let head = token(&secret, Role::Head);
    let mut sync = pb::sync_service_client::SyncServiceClient::with_interceptor(
        channel.clone(),
        Bearer::new(&head).unwrap(),
    );
    let status = sync
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.unit_code, TOWN);
    let refused = pb::reception_service_client::ReceptionServiceClient::with_interceptor(
        channel,
        Bearer::new(&head).unwrap(),
    )
    .record_visit(visit_request("tls", 0))
    .await
    .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unimplemented, "{refused:?}");
    let plaintext = http(addr, "GET / HTTP/1.1", b"").await;
    assert!(!plaintext.starts_with("HTTP/1.1 200"), "{plaintext}");
    town.stop().await;
}
