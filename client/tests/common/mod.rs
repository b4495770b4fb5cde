//! What the command-line tests share: the built `tiepdan` run against a test node.

use std::process::{Command, Output};

use chrono::TimeZone;
use tiepdan_proto::v1 as pb;
use tonic::transport::Channel;

/// Runs `tiepdan --node URL ARGS…` from this crate's directory (paths in ARGS are relative to
/// it), with `env` set and no token but one given here, off the async runtime.
pub async fn tiepdan(url: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tiepdan"));
    command
        .arg("--node")
        .arg(url)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TIEPDAN_TOKEN");
    for (k, v) in env {
        command.env(k, v);
    }
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap_or_else(|e| panic!("join: {e}"))
        .unwrap_or_else(|e| panic!("run tiepdan: {e}"))
}

/// Output as text, whatever its bytes.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// 09:00 local time (Asia/Ho_Chi_Minh) of a day, as the API carries it.
#[allow(dead_code)] // each test binary uses part of this module
pub fn ts(y: i32, m: u32, d: u32) -> Option<prost_types::Timestamp> {
    let t = chrono_tz::Asia::Ho_Chi_Minh
        .with_ymd_and_hms(y, m, d, 9, 0, 0)
        .single()?;
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

/// Records at `ch` a land complaint within the unit's competence, received on `days[0]`,
/// accepted on `days[1]` and resolved on `days[2]` with `outcome` and the amounts to recover.
#[allow(dead_code)] // each test binary uses part of this module
pub async fn resolved_complaint(
    ch: &Channel,
    tag: &str,
    days: [(i32, u32, u32); 3],
    outcome: pb::CaseOutcome,
    money_vnd: i64,
    land_m2: f64,
) {
    let at = |(y, m, d): (i32, u32, u32)| ts(y, m, d);
    let mut petitions = pb::petition_service_client::PetitionServiceClient::new(ch.clone());
    let p = petitions
        .receive_petition(pb::ReceivePetitionRequest {
            request_id: format!("{tag}-r"),
            received_time: at(days[0]),
            channel: pb::Channel::InPerson as i32,
            summary: "Khiếu nại quyết định thu hồi đất".into(),
            petitioner: Some(pb::Petitioner {
                full_name: "Nguyễn Văn A".into(),
                ..Default::default()
            }),
            signers: 1,
            visit_id: String::new(),
            classification: Some(pb::Classification {
                r#type: pb::PetitionType::Complaint as i32,
                field: pb::Field::LandHousing as i32,
                complaint_round: 1,
                eligibility: pb::Eligibility::Eligible as i32,
                jurisdiction: pb::Jurisdiction::Within as i32,
                has_evidence: true,
            }),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .petition
        .unwrap_or_else(|| panic!("no petition"));
    let case = petitions
        .accept_petition(pb::AcceptPetitionRequest {
            request_id: format!("{tag}-a"),
            petition_id: p.id,
            accept_time: at(days[1]),
            target: Some(pb::accept_petition_request::Target::NewCase(pb::NewCase {
                complex: false,
            })),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .case
        .unwrap_or_else(|| panic!("no case"));
    pb::case_service_client::CaseServiceClient::new(ch.clone())
        .resolve_case(pb::ResolveCaseRequest {
            request_id: format!("{tag}-d"),
            case_id: case.id,
            outcome: outcome as i32,
            decision_number: "12/QĐ-UBND".into(),
            decision_time: at(days[2]),
            money_to_recover_vnd: money_vnd,
            land_to_recover_m2: land_m2,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}
