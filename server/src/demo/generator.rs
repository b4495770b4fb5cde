//! A register shaped like the seed (DOMAIN.md): visits, petitions of every type, cases
//! carried over from the year before, petitions transferred from a commune up to the town and
//! accepted there, and resolutions — spread over the units by a seeded random generator and
//! recorded through the public gRPC API of each unit's node. It returns a ledger of what it
//! recorded, counted by the generator itself, for the tests to compare reports against.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveDate, TimeZone, Utc};
use prost_types::Timestamp;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use tiepdan_proto::v1 as pb;
use tonic::transport::Channel;

use crate::domain::deadlines::LOCAL_TZ;

/// The shape of the register to generate.
#[derive(Debug, Clone)]
pub struct Shape {
    pub seed: u64,
    /// Year of the statistical 9-month period (15 Dec of the year before – 14 Sep).
    pub year: i32,
    /// Visits received in the period over the whole subtree.
    pub visits: u32,
    /// Petitions received in the period over the whole subtree (each counted once).
    pub petitions: u32,
    /// Complaint cases to resolve in the period: carried over plus accepted.
    pub complaint_cases_to_resolve: u32,
    /// Of them, resolved in the period.
    pub complaint_cases_resolved: u32,
    /// Of the cases to resolve, accepted the year before and still open.
    pub carried_over: u32,
    /// Of the cases accepted in the period, petitions a commune transferred up to the town.
    pub transferred_up: u32,
}

impl Shape {
    /// The seed's own numbers: 923 visits, 96 petitions, 35 complaint cases to resolve, 22
    /// resolved.
    pub fn son_tay_2019(seed: u64) -> Shape {
        Shape {
            seed,
            year: 2019,
            visits: 923,
            petitions: 96,
            complaint_cases_to_resolve: 35,
            complaint_cases_resolved: 22,
            carried_over: 6,
            transferred_up: 5,
        }
    }

    /// An illustrative register for Hà Nội on today's map, a little larger than the seed's town:
    /// the communes' complaints that are not theirs go straight up to the city.
    pub fn ha_noi_2026(seed: u64) -> Shape {
        Shape {
            seed,
            year: 2026,
            visits: 1180,
            petitions: 134,
            complaint_cases_to_resolve: 46,
            complaint_cases_resolved: 31,
            carried_over: 8,
            transferred_up: 6,
        }
    }

    /// First and last local day of the period.
    pub fn period(&self) -> (NaiveDate, NaiveDate) {
        (
            NaiveDate::from_ymd_opt(self.year - 1, 12, 15).unwrap_or_default(),
            NaiveDate::from_ymd_opt(self.year, 9, 14).unwrap_or_default(),
        )
    }
}

/// What the generator recorded, per unit where it was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitLedger {
    pub visits: u64,
    pub persons: u64,
    pub crowd_groups: u64,
    /// Petitions received in the period directly at the unit.
    pub petitions_received: u64,
    /// Petitions that came to the unit by transfer from a unit of the same subtree.
    pub petitions_transferred_in: u64,
    /// Complaint cases owned by the unit, to resolve in the period.
    pub complaint_cases_to_resolve: u64,
    /// Of them, resolved in the period.
    pub complaint_cases_resolved: u64,
}

/// The whole ledger.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub units: BTreeMap<String, UnitLedger>,
}

impl Ledger {
    /// Sum over the units.
    pub fn total(&self) -> UnitLedger {
        let mut t = UnitLedger::default();
        for u in self.units.values() {
            t.visits += u.visits;
            t.persons += u.persons;
            t.crowd_groups += u.crowd_groups;
            t.petitions_received += u.petitions_received;
            t.petitions_transferred_in += u.petitions_transferred_in;
            t.complaint_cases_to_resolve += u.complaint_cases_to_resolve;
            t.complaint_cases_resolved += u.complaint_cases_resolved;
        }
        t
    }
}

/// A failure while generating.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{0}")]
    Shape(String),
    #[error("{}: {}", .0.code(), .0.message())]
    Rpc(#[from] tonic::Status),
    #[error("transfer of {0} did not reach the town in time")]
    TransferTimeout(String),
}

/// A unit's node, as the generator reaches it.
#[derive(Clone)]
pub struct Target {
    pub code: String,
    pub channel: Channel,
}

fn ts(t: DateTime<Utc>) -> Option<Timestamp> {
    Some(crate::wire::timestamp(t))
}

/// A local time on `day` between 07:30 and 17:00.
fn at(rng: &mut StdRng, day: NaiveDate) -> DateTime<Utc> {
    let minutes = rng.random_range(450..1020);
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default() + Days::minutes(minutes);
    LOCAL_TZ
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

fn day_between(rng: &mut StdRng, first: NaiveDate, last: NaiveDate) -> NaiveDate {
    let span = (last - first).num_days().max(0);
    first + Days::days(rng.random_range(0..=span))
}

struct Gen<'a> {
    rng: StdRng,
    units: Vec<&'a Target>,
    ledger: Ledger,
    prefix: String,
    n: u64,
}

impl Gen<'_> {
    fn id(&mut self, what: &str) -> String {
        self.n += 1;
        format!("{}-{what}-{}", self.prefix, self.n)
    }

    fn pick(&mut self) -> Target {
        let i = self.rng.random_range(0..self.units.len());
        self.units[i].clone()
    }

    fn entry(&mut self, code: &str) -> &mut UnitLedger {
        self.ledger.units.entry(code.to_string()).or_default()
    }
}

fn classification(
    kind: pb::PetitionType,
    field: pb::Field,
    eligible: bool,
    within: bool,
) -> pb::Classification {
    pb::Classification {
        r#type: kind as i32,
        field: field as i32,
        complaint_round: u32::from(kind == pb::PetitionType::Complaint),
        eligibility: if eligible {
            pb::Eligibility::Eligible
        } else {
            pb::Eligibility::Ineligible
        } as i32,
        jurisdiction: if within {
            pb::Jurisdiction::Within
        } else {
            pb::Jurisdiction::Outside
        } as i32,
        has_evidence: true,
    }
}

async fn receive(
    g: &mut Gen<'_>,
    unit: &Target,
    when: DateTime<Utc>,
    class: Option<pb::Classification>,
) -> Result<pb::Petition, GenerateError> {
    let request_id = g.id("p");
    let summary = format!("Đơn số {request_id}");
    let mut client = pb::petition_service_client::PetitionServiceClient::new(unit.channel.clone());
    let petition = client
        .receive_petition(pb::ReceivePetitionRequest {
            request_id,
            received_time: ts(when),
            channel: pb::Channel::InPerson as i32,
            summary,
            petitioner: Some(pb::Petitioner {
                full_name: "Công dân".into(),
                ..Default::default()
            }),
            signers: 1,
            visit_id: String::new(),
            classification: class,
        })
        .await?
        .into_inner()
        .petition
        .unwrap_or_default();
    Ok(petition)
}

async fn accept(
    g: &mut Gen<'_>,
    unit: &Target,
    petition_id: &str,
    when: DateTime<Utc>,
) -> Result<pb::Case, GenerateError> {
    let request_id = g.id("a");
    let mut client = pb::petition_service_client::PetitionServiceClient::new(unit.channel.clone());
    Ok(client
        .accept_petition(pb::AcceptPetitionRequest {
            request_id,
            petition_id: petition_id.to_string(),
            accept_time: ts(when),
            target: Some(pb::accept_petition_request::Target::NewCase(pb::NewCase {
                complex: false,
            })),
        })
        .await?
        .into_inner()
        .case
        .unwrap_or_default())
}

async fn resolve(
    g: &mut Gen<'_>,
    unit: &Target,
    case_id: &str,
    outcome: pb::CaseOutcome,
    when: DateTime<Utc>,
) -> Result<(), GenerateError> {
    let request_id = g.id("r");
    let mut client = pb::case_service_client::CaseServiceClient::new(unit.channel.clone());
    client
        .resolve_case(pb::ResolveCaseRequest {
            request_id: request_id.clone(),
            case_id: case_id.to_string(),
            outcome: outcome as i32,
            decision_number: format!("{}/QĐ-UBND", g.n),
            decision_time: ts(when),
            money_to_recover_vnd: 0,
            land_to_recover_m2: 0.0,
        })
        .await?;
    Ok(())
}

/// Waits until the town holds the petition transferred as `source_id`.
async fn transferred_in(town: &Target, source_id: &str) -> Result<pb::Petition, GenerateError> {
    let mut client = pb::petition_service_client::PetitionServiceClient::new(town.channel.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut token = String::new();
        loop {
            // Any status: rerun over the same databases, the town has accepted it already.
            let page = client
                .list_petitions(pb::ListPetitionsRequest {
                    unit_code: town.code.clone(),
                    page_size: 1000,
                    page_token: token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            if let Some(p) = page
                .petitions
                .into_iter()
                .find(|p| p.source_petition_id == source_id)
            {
                return Ok(p);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(GenerateError::TransferTimeout(source_id.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const COMPLAINT_OUTCOMES: [pb::CaseOutcome; 4] = [
    pb::CaseOutcome::ComplaintCorrect,
    pb::CaseOutcome::ComplaintPartlyCorrect,
    pb::CaseOutcome::ComplaintIncorrect,
    pb::CaseOutcome::Withdrawn,
];

/// Generates the register over `town` (which must be the parent of every commune, with
/// the communes' links up) and `communes`.
pub async fn generate(
    shape: &Shape,
    town: &Target,
    communes: &[Target],
) -> Result<Ledger, GenerateError> {
    let in_period = shape
        .complaint_cases_to_resolve
        .checked_sub(shape.carried_over)
        .ok_or_else(|| GenerateError::Shape("carried_over exceeds cases to resolve".into()))?;
    if in_period > shape.petitions
        || shape.transferred_up > in_period
        || shape.complaint_cases_resolved > shape.complaint_cases_to_resolve
        || (shape.transferred_up > 0 && communes.is_empty())
    {
        return Err(GenerateError::Shape("inconsistent shape".into()));
    }
    let mut units: Vec<&Target> = vec![town];
    units.extend(communes.iter());
    let mut g = Gen {
        rng: StdRng::seed_from_u64(shape.seed),
        units,
        ledger: Ledger::default(),
        prefix: format!("gen{}", shape.seed),
        n: 0,
    };
    for u in &g.units {
        g.ledger.units.entry(u.code.clone()).or_default();
    }
    let (first, last) = shape.period();

    // Visits.
    for _ in 0..shape.visits {
        let unit = g.pick();
        let day = day_between(&mut g.rng, first, last);
        let when = at(&mut g.rng, day);
        let persons = if g.rng.random_bool(0.06) {
            g.rng.random_range(5..=20)
        } else {
            g.rng.random_range(1..=4)
        };
        let head = g.rng.random_bool(0.25);
        let (kind, role) = if head {
            (
                pb::ReceptionKind::Periodic,
                *[
                    pb::ReceiverRole::PartySecretary,
                    pb::ReceiverRole::CommitteeChairman,
                    pb::ReceiverRole::CouncilDelegate,
                ]
                .choose(&mut g.rng)
                .unwrap_or(&pb::ReceiverRole::CommitteeChairman),
            )
        } else {
            (pb::ReceptionKind::Regular, pb::ReceiverRole::Staff)
        };
        let request_id = g.id("v");
        let mut client =
            pb::reception_service_client::ReceptionServiceClient::new(unit.channel.clone());
        client
            .record_visit(pb::RecordVisitRequest {
                request_id,
                visit_time: ts(when),
                kind: kind as i32,
                receiver_role: role as i32,
                receiver_name: String::new(),
                persons,
                matter: if g.rng.random_bool(0.8) {
                    pb::MatterKind::First
                } else {
                    pb::MatterKind::Repeat
                } as i32,
                action: pb::ReceptionAction::Accepted as i32,
                summary: String::new(),
                schedule_entry_id: String::new(),
            })
            .await?;
        let e = g.entry(&unit.code);
        e.visits += 1;
        e.persons += u64::from(persons);
        e.crowd_groups += u64::from(persons >= 5);
    }

    // Complaint cases: (owner, case id, accept time).
    let mut cases: Vec<(Target, String, DateTime<Utc>)> = Vec::new();
    let complaint = |within| {
        classification(
            pb::PetitionType::Complaint,
            pb::Field::LandHousing,
            true,
            within,
        )
    };
    for _ in 0..shape.carried_over {
        let unit = g.pick();
        let received = at(&mut g.rng, first - Days::days(40));
        let p = receive(&mut g, &unit, received, Some(complaint(true))).await?;
        let when = at(&mut g.rng, first - Days::days(30));
        let case = accept(&mut g, &unit, &p.id, when).await?;
        cases.push((unit.clone(), case.id, received));
    }
    let latest = last - Days::days(35);
    for i in 0..in_period {
        let day = day_between(&mut g.rng, first, latest);
        if i < shape.transferred_up {
            let from = communes[g.rng.random_range(0..communes.len())].clone();
            let when = at(&mut g.rng, day);
            let p = receive(&mut g, &from, when, Some(complaint(false))).await?;
            g.entry(&from.code).petitions_received += 1;
            let request_id = g.id("t");
            let mut client =
                pb::petition_service_client::PetitionServiceClient::new(from.channel.clone());
            client
                .transfer_petition(pb::TransferPetitionRequest {
                    request_id,
                    petition_id: p.id.clone(),
                    destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                        town.code.clone(),
                    )),
                    note: "Không thuộc thẩm quyền cấp xã".into(),
                    decision_time: ts(at(&mut g.rng, day + Days::days(1))),
                })
                .await?;
            let arrived = transferred_in(town, &p.id).await?;
            g.entry(&town.code).petitions_transferred_in += 1;
            let request_id = g.id("c");
            let mut client =
                pb::petition_service_client::PetitionServiceClient::new(town.channel.clone());
            client
                .classify_petition(pb::ClassifyPetitionRequest {
                    request_id,
                    petition_id: arrived.id.clone(),
                    classification: Some(complaint(true)),
                    decision_time: ts(at(&mut g.rng, day + Days::days(2))),
                })
                .await?;
            let when = at(&mut g.rng, day + Days::days(3));
            let case = accept(&mut g, town, &arrived.id, when).await?;
            cases.push((town.clone(), case.id, when));
        } else {
            let unit = g.pick();
            let received = at(&mut g.rng, day);
            let p = receive(&mut g, &unit, received, Some(complaint(true))).await?;
            g.entry(&unit.code).petitions_received += 1;
            let delay = g.rng.random_range(1..=5);
            let when = at(&mut g.rng, day + Days::days(delay));
            let case = accept(&mut g, &unit, &p.id, when).await?;
            cases.push((unit.clone(), case.id, when));
        }
    }
    for (owner, _, _) in &cases {
        g.entry(&owner.code).complaint_cases_to_resolve += 1;
    }
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.shuffle(&mut g.rng);
    for &i in order.iter().take(shape.complaint_cases_resolved as usize) {
        let (owner, case_id, accepted) = cases[i].clone();
        let earliest = crate::domain::deadlines::local_date(accepted).max(first) + Days::days(1);
        let day = day_between(&mut g.rng, earliest.min(last), last);
        let outcome = *COMPLAINT_OUTCOMES
            .choose(&mut g.rng)
            .unwrap_or(&pb::CaseOutcome::ComplaintCorrect);
        let when = at(&mut g.rng, day);
        resolve(&mut g, &owner, &case_id, outcome, when).await?;
        g.entry(&owner.code).complaint_cases_resolved += 1;
    }

    // Other petitions: every type and routing, none of them a complaint case.
    for _ in 0..shape.petitions - in_period {
        let unit = g.pick();
        let day = day_between(&mut g.rng, first, last - Days::days(3));
        let kind = *[
            pb::PetitionType::Complaint,
            pb::PetitionType::Denunciation,
            pb::PetitionType::Recommendation,
            pb::PetitionType::Mixed,
        ]
        .choose(&mut g.rng)
        .unwrap_or(&pb::PetitionType::Recommendation);
        let field = *[
            pb::Field::LandHousing,
            pb::Field::Administration,
            pb::Field::Justice,
            pb::Field::Party,
            pb::Field::Other,
        ]
        .choose(&mut g.rng)
        .unwrap_or(&pb::Field::Other);
        let route = g.rng.random_range(0..6);
        let kind = if route == 5 && kind == pb::PetitionType::Complaint {
            pb::PetitionType::Recommendation
        } else {
            kind
        };
        let eligible = route != 1;
        let within = route == 5 && kind != pb::PetitionType::Complaint;
        let class = classification(kind, field, eligible, within);
        let when = at(&mut g.rng, day);
        let p = receive(&mut g, &unit, when, Some(class)).await?;
        g.entry(&unit.code).petitions_received += 1;
        let when = ts(at(&mut g.rng, day + Days::days(2)));
        let mut client =
            pb::petition_service_client::PetitionServiceClient::new(unit.channel.clone());
        let request_id = g.id("d");
        match route {
            0 => {
                client
                    .guide_petition(pb::GuidePetitionRequest {
                        request_id,
                        petition_id: p.id,
                        outside_body: "Tòa án nhân dân".into(),
                        note: String::new(),
                        decision_time: when,
                    })
                    .await?;
            }
            1 => {
                client
                    .file_petition(pb::FilePetitionRequest {
                        request_id,
                        petition_id: p.id,
                        reason: pb::FileReason::Ineligible as i32,
                        note: String::new(),
                        decision_time: when,
                    })
                    .await?;
            }
            2 => {
                client
                    .transfer_petition(pb::TransferPetitionRequest {
                        request_id,
                        petition_id: p.id,
                        destination: Some(pb::transfer_petition_request::Destination::OutsideBody(
                            "Công an thị xã".into(),
                        )),
                        note: String::new(),
                        decision_time: when,
                    })
                    .await?;
            }
            3 => {
                client
                    .urge_petition(pb::UrgePetitionRequest {
                        request_id,
                        petition_id: p.id,
                        outside_body: "UBND xã".into(),
                        note: String::new(),
                        decision_time: when,
                    })
                    .await?;
            }
            4 => {
                client
                    .withdraw_petition(pb::WithdrawPetitionRequest {
                        request_id,
                        petition_id: p.id,
                        note: String::new(),
                        decision_time: when,
                    })
                    .await?;
            }
            _ => {
                // Within jurisdiction and not a complaint: a denunciation, recommendation or
                // mixed case that does not count among complaint cases.
                let when = at(&mut g.rng, day + Days::days(2));
                accept(&mut g, &unit, &p.id, when).await?;
            }
        }
    }
    Ok(g.ledger)
}
