//! Petitions: received, classified and decided (accepted, transferred, guided, filed).

use chrono::{DateTime, Utc};
use tiepdan_proto::v1 as pb;

use super::write::{Begun, RequestKey};
use super::{App, now_us};
use crate::domain::DomainError;
use crate::domain::deadlines::{self};
use crate::domain::lifecycle::{self, CaseCommand, Destination, PetitionCommand};
use crate::domain::model::{
    Case, CaseStatus, Channel, Classification, Petition, PetitionStatus, Petitioner,
};
use crate::domain::tally::{self, Delta};
use crate::storage::Tx;
use crate::storage::records::{self as repo};
use crate::wire;

/// Input of `receive_petition`.
#[derive(Debug, Clone)]
pub struct NewPetition {
    pub received_time: DateTime<Utc>,
    pub channel: Channel,
    pub summary: String,
    pub petitioner: Option<Petitioner>,
    pub signers: u32,
    pub visit_id: Option<String>,
    pub classification: Option<Classification>,
}

/// Where an accepted petition goes.
#[derive(Debug, Clone)]
pub enum AcceptTarget {
    /// A new case.
    NewCase { complex: bool },
    /// An open case of this unit.
    Existing(String),
}

impl App {
    /// Receives a petition, optionally classified at receipt.
    pub async fn receive_petition(
        &self,
        key: &RequestKey,
        input: NewPetition,
    ) -> Result<Petition, DomainError> {
        let anonymous = input.petitioner.is_none();
        if let Some(c) = &input.classification {
            lifecycle::check_classification(anonymous, c, "classification.")?;
        }
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        if let Some(id) = &input.visit_id
            && repo::find_visit(&tx, id).await?.is_none()
        {
            return Err(DomainError::NotFound {
                kind: "visit",
                id: id.clone(),
            });
        }
        let now = now_us();
        let (_, due_date) = self
            .deadlines()
            .petition_due(input.received_time, input.classification.as_ref());
        let petition = Petition {
            id: self.next_id(&tx, "P").await?,
            unit_code: self.code().to_string(),
            received_time: input.received_time,
            channel: input.channel,
            summary: input.summary,
            status: if input.classification.is_some() {
                PetitionStatus::Classified
            } else {
                PetitionStatus::Received
            },
            anonymous,
            signers: if anonymous { 0 } else { input.signers.max(1) },
            visit_id: input.visit_id,
            classification: input.classification,
            case_id: None,
            transferred_to_unit: None,
            outside_body: None,
            file_reason: None,
            note: String::new(),
            due_date,
            processed_time: None,
            version: 1,
            update_time: now,
            source_petition_id: None,
            source_unit: None,
            result: None,
        };
        repo::insert_petition(&tx, &petition).await?;
        if let Some(person) = &input.petitioner {
            repo::insert_petitioner(&tx, &petition.id, person).await?;
        }
        self.log_petition(&tx, now, key.method, &petition).await?;
        let mut delta = Delta::default();
        delta.record(&self.tree(), &[], &tally::petition(&petition));
        self.finish(tx, key, &petition, now, delta).await?;
        Ok(petition)
    }

    /// A petition this unit holds; copies of the subtree's petitions are read-only here.
    async fn load_petition(&self, tx: &Tx, id: &str) -> Result<Petition, DomainError> {
        let p = repo::find_petition(tx, id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "petition",
                id: id.to_string(),
            })?;
        if !self.holds(&p.unit_code) {
            return Err(DomainError::precondition(
                "NOT_OWNER",
                format!(
                    "petition {} is held and handled by unit {}",
                    p.id, p.unit_code
                ),
            ));
        }
        Ok(p)
    }

    /// Applies a lifecycle command other than accept to a petition.
    pub async fn decide_petition(
        &self,
        key: &RequestKey,
        petition_id: &str,
        command: PetitionCommand,
        at: Option<DateTime<Utc>>,
    ) -> Result<Petition, DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let petition = self.load_petition(&tx, petition_id).await?;
        let transfer_to = match &command {
            PetitionCommand::Transfer {
                destination: Destination::Unit(code),
                note,
            } => Some((code.clone(), note.clone())),
            _ => None,
        };
        if let Some((code, _)) = &transfer_to {
            if *code == self.code() {
                return Err(DomainError::invalid(
                    "unit_code",
                    "a petition cannot be transferred to the unit that holds it",
                ));
            }
            // Units elsewhere in the tree are known from the parent's directory.
            if repo::find_unit(&tx, code).await?.is_none() {
                return Err(DomainError::NotFound {
                    kind: "unit",
                    id: code.clone(),
                });
            }
        }
        let now = now_us();
        let at = at.unwrap_or(now);
        if at < petition.received_time {
            return Err(DomainError::invalid(
                "decision_time",
                "a decision cannot precede the receipt of the petition",
            ));
        }
        let mut after = lifecycle::apply_petition(&petition, command, at)?;
        after.update_time = now;
        if after.status.is_pending() {
            after.due_date = self
                .deadlines()
                .petition_due(after.received_time, after.classification.as_ref())
                .1;
        }
        repo::update_petition(&tx, &after).await?;
        self.log_petition(&tx, now, key.method, &after).await?;
        if let Some((destination, note)) = transfer_to {
            let mut petitioner = repo::find_petitioner(&tx, &after.id)
                .await?
                .as_ref()
                .map(wire::petitioner);
            // Sealed to the destination, so no node on the way can read it. While its key is
            // not known here the envelope waits in this node's outbox, which holds the
            // details anyway, and is sealed when it leaves (`outbox`).
            let mut sealed_petitioner = Vec::new();
            if let Some(person) = &petitioner {
                match self.seal_for(&tx, &destination, person).await? {
                    Some(sealed) => {
                        sealed_petitioner = sealed;
                        petitioner = None;
                    }
                    None => tracing::info!(
                        destination = %destination,
                        "no sealing key known for the destination yet: the transfer waits here"
                    ),
                }
            }
            let content = pb::mail::Content::PetitionTransfer(pb::PetitionTransfer {
                petition: Some(wire::petition(&after, self.deadlines(), None)),
                petitioner,
                note,
                sealed_petitioner,
            });
            self.send_mail(&tx, &destination, now, content).await?;
        }
        let mut delta = Delta::default();
        delta.record(
            &self.tree(),
            &tally::petition(&petition),
            &tally::petition(&after),
        );
        self.finish(tx, key, &after, now, delta).await?;
        Ok(after)
    }

    /// Thụ lý: accepts a petition into a new case or an open case of this unit.
    pub async fn accept_petition(
        &self,
        key: &RequestKey,
        petition_id: &str,
        accept_time: DateTime<Utc>,
        target: AcceptTarget,
    ) -> Result<(Petition, Case), DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let petition = self.load_petition(&tx, petition_id).await?;
        if accept_time < petition.received_time {
            return Err(DomainError::invalid(
                "accept_time",
                "a petition cannot be accepted before it was received",
            ));
        }
        let now = now_us();
        let (case_before, case_id) = match &target {
            AcceptTarget::Existing(id) => {
                let case =
                    repo::find_case(&tx, id)
                        .await?
                        .ok_or_else(|| DomainError::NotFound {
                            kind: "case",
                            id: id.clone(),
                        })?;
                (Some(case), id.clone())
            }
            AcceptTarget::NewCase { .. } => (None, self.next_id(&tx, "C").await?),
        };
        let after = lifecycle::apply_petition(
            &petition,
            PetitionCommand::Accept {
                case_id: case_id.clone(),
            },
            accept_time,
        )?;
        let mut after = after;
        after.update_time = now;
        let classification = after.classification.ok_or_else(|| {
            DomainError::precondition("NOT_CLASSIFIED", "petition is not classified")
        })?;
        let case = match (case_before, target) {
            (Some(existing), _) => {
                if !self.holds(&existing.owner_unit) {
                    return Err(DomainError::precondition(
                        "NOT_OWNER",
                        format!(
                            "case {} is owned by unit {}",
                            existing.id, existing.owner_unit
                        ),
                    ));
                }
                if existing.case_type != classification.petition_type {
                    return Err(DomainError::precondition(
                        "TYPE_MISMATCH",
                        format!(
                            "case {} is a {} case; the petition is a {}",
                            existing.id, existing.case_type, classification.petition_type
                        ),
                    ));
                }
                lifecycle::apply_case(
                    &existing,
                    CaseCommand::Attach {
                        petition_id: petition.id.clone(),
                    },
                    now,
                )?
            }
            (None, target) => {
                let complex = matches!(target, AcceptTarget::NewCase { complex: true });
                let mut case = Case {
                    id: case_id,
                    owner_unit: self.code().to_string(),
                    case_type: classification.petition_type,
                    field: classification.field,
                    complaint_round: classification.complaint_round,
                    complex,
                    extensions: 0,
                    status: CaseStatus::Open,
                    accept_time,
                    due_date: deadlines::local_date(accept_time),
                    petition_ids: vec![petition.id.clone()],
                    outcome: None,
                    decision_number: String::new(),
                    decision_time: None,
                    money_to_recover_vnd: 0,
                    land_to_recover_m2: 0.0,
                    effective_time: None,
                    money_recovered_vnd: 0,
                    land_recovered_m2: 0.0,
                    enforced_time: None,
                    version: 1,
                    update_time: now,
                };
                case.due_date = self.deadlines().case_due(&case, self.remote()).1;
                repo::insert_case(&tx, &case).await?;
                case
            }
        };
        let mut delta = Delta::default();
        let tree = self.tree();
        if case.version > 1 {
            let before = repo::find_case(&tx, &case.id).await?;
            repo::update_case(&tx, &case).await?;
            if let Some(before) = before {
                delta.record(&tree, &tally::case(&before), &tally::case(&case));
            }
        } else {
            delta.record(&tree, &[], &tally::case(&case));
        }
        repo::update_petition(&tx, &after).await?;
        delta.record(&tree, &tally::petition(&petition), &tally::petition(&after));
        self.log_petition(&tx, now, key.method, &after).await?;
        self.log_case(&tx, now, key.method, &case).await?;
        let answer = (after, case);
        self.finish(tx, key, &answer, now, delta).await?;
        Ok(answer)
    }
}
