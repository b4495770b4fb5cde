//! Mail: addressed envelopes routed hop by hop through the tree. A transfer carries the
//! petitioner's personal details only along the path to the unit that must handle the
//! petition; a case result travels back to the unit that transferred the petition. Each
//! envelope waits in the sender's outbox until the next hop has durably taken it, and each
//! receiver remembers the envelopes it took, so a redelivered envelope changes nothing.

use chrono::{DateTime, Utc};
use tiepdan_proto::v1 as pb;

use crate::app::App;
use crate::domain::DomainError;
use crate::domain::model::{Channel, Petition, PetitionResult, PetitionStatus};
use crate::domain::tally::{self, Delta};
use crate::storage::records::{self as repo};
use crate::storage::{Read, Tx, mail as outbox};
use crate::wire;

/// Which way an envelope leaves this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hop {
    /// Up, to the parent.
    Up,
    /// Down, to this child.
    Down(String),
    /// It is for this node.
    Here,
}

impl App {
    /// Where mail for `destination` goes next.
    pub fn route(&self, destination: &str) -> Hop {
        let tree = self.tree();
        // Mail for a unit that ended goes to the unit that took it over.
        let destination = tree.history().custodian(destination);
        let destination = destination.as_str();
        if destination == tree.root() {
            Hop::Here
        } else if let Some(child) = tree
            .child_towards(destination)
            .filter(|_| tree.is_within(destination, tree.root()))
        {
            Hop::Down(child)
        } else {
            Hop::Up
        }
    }

    /// Puts an envelope for `destination` in the outbox, inside the caller's transaction.
    pub(crate) async fn send_mail(
        &self,
        tx: &Tx,
        destination: &str,
        at: DateTime<Utc>,
        content: pb::mail::Content,
    ) -> Result<(), DomainError> {
        let mail = pb::Mail {
            id: self.next_id(tx, "M").await?,
            destination_unit: destination.to_string(),
            source_unit: self.code(),
            send_time: Some(wire::timestamp(at)),
            content: Some(content),
        };
        if self.holds(destination) {
            // A result for a unit this node took over: delivered here, in the same transaction.
            let mut delta = Delta::default();
            self.deliver(tx, &mail, at, &mut delta).await?;
            return repo::flush_tally(tx, delta).await;
        }
        outbox::enqueue(tx, &mail, at).await
    }

    /// Sends the result of a closed case back to every unit that transferred one of its
    /// petitions here.
    pub(crate) async fn send_results(
        &self,
        tx: &Tx,
        case: &crate::domain::model::Case,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        for petition_id in &case.petition_ids {
            let Some(p) = repo::find_petition(tx, petition_id).await? else {
                continue;
            };
            if let (Some(source_petition_id), Some(source_unit)) =
                (p.source_petition_id.clone(), p.source_unit.clone())
            {
                let content = pb::mail::Content::CaseResult(pb::CaseResult {
                    source_petition_id,
                    case: Some(wire::case(case, self.deadlines(), self.remote(), None)),
                });
                self.send_mail(tx, &source_unit, at, content).await?;
            }
        }
        Ok(())
    }

    /// Envelopes waiting in the outbox whose next hop is `hop`, oldest first. Routing is
    /// decided on the (small) list of destinations first, so mail waiting for one hop never
    /// starves another. A transfer whose personal details are still in clear leaves only
    /// sealed, and waits while the destination's key is not known: no node on the way may
    /// read them.
    pub async fn outbox(&self, hop: &Hop, limit: u64) -> Result<Vec<pb::Mail>, DomainError> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let waiting = outbox::waiting(self.store().reader()).await?;
        let ids: Vec<String> = waiting
            .into_iter()
            .filter(|(_, destination)| self.route(destination) == *hop)
            .map(|(id, _)| id)
            .collect();
        let mut out = Vec::new();
        // Envelopes that must wait are skipped, so a page may yield fewer than it read.
        for page in ids.chunks(limit.max(1)) {
            for mut mail in outbox::envelopes(self.store().reader(), page).await? {
                if self.seal_in_clear(self.store().reader(), &mut mail).await? {
                    out.push(mail);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Seals the personal details of a transfer that carries them in clear to its
    /// destination; false when the destination's key is not known (the envelope must wait).
    async fn seal_in_clear(
        &self,
        db: &impl Read,
        mail: &mut pb::Mail,
    ) -> Result<bool, DomainError> {
        let Some(pb::mail::Content::PetitionTransfer(t)) = &mut mail.content else {
            return Ok(true);
        };
        let Some(person) = &t.petitioner else {
            return Ok(true);
        };
        match self.seal_for(db, &mail.destination_unit, person).await? {
            Some(sealed) => {
                t.sealed_petitioner = sealed;
                t.petitioner = None;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Number of envelopes waiting for `hop`.
    pub async fn outbox_len(&self, hop: &Hop) -> Result<u64, DomainError> {
        let rows = outbox::destinations(self.store().reader()).await?;
        Ok(rows.iter().filter(|d| self.route(d) == *hop).count() as u64)
    }

    /// The next hop durably took `mail_id`: forget it.
    pub async fn mail_delivered(&self, mail_id: &str) -> Result<(), DomainError> {
        let tx = self.store().begin_write().await?;
        outbox::remove(&tx, mail_id).await?;
        self.store().commit(tx).await?;
        // A transfer's personal details may have passed through here: leave no copy behind.
        self.store().truncate_log().await;
        Ok(())
    }

    /// Takes an envelope from a neighbour: delivers it here or forwards it, exactly once.
    /// `from_child` names the child it came from (None: from the parent); a child may only
    /// send mail from its own subtree.
    pub async fn receive_mail(
        &self,
        mail: pb::Mail,
        from_child: Option<&str>,
    ) -> Result<(), DomainError> {
        let mut v = crate::domain::validate::Violations::default();
        v.id("mail.id", &mail.id, true);
        v.unit_code("mail.destination_unit", &mail.destination_unit);
        v.unit_code("mail.source_unit", &mail.source_unit);
        v.finish()?;
        // Mail delivered here may write this unit's events (a transfer becomes its petition).
        self.refuse_while_recovering()?;
        if let Some(child) = from_child
            && !self.tree().is_within(&mail.source_unit, child)
        {
            return Err(DomainError::precondition(
                "FORGED_ORIGIN",
                format!(
                    "child {child} cannot send mail from unit {}",
                    mail.source_unit
                ),
            ));
        }
        let tx = self.store().begin_write().await?;
        let now = super::now_us();
        if !outbox::take_once(&tx, &mail.id, now).await? {
            return Ok(()); // already taken: the acknowledgement was lost
        }
        let mut delta = Delta::default();
        if self.holds(&mail.destination_unit) {
            self.deliver(&tx, &mail, now, &mut delta).await?;
        } else {
            // Details in clear (from a node that could not seal them) are sealed before they
            // are stored here, if this node knows the destination's key.
            let mut mail = mail;
            self.seal_in_clear(&tx, &mut mail).await?;
            outbox::enqueue(&tx, &mail, now).await?;
        }
        repo::flush_tally(&tx, delta).await?;
        self.store().commit(tx).await?;
        self.notify_changed();
        Ok(())
    }

    async fn deliver(
        &self,
        tx: &Tx,
        mail: &pb::Mail,
        now: DateTime<Utc>,
        delta: &mut Delta,
    ) -> Result<(), DomainError> {
        match &mail.content {
            Some(pb::mail::Content::PetitionTransfer(t)) => {
                let source = t
                    .petition
                    .as_ref()
                    .map(wire::inbound::petition)
                    .transpose()?
                    .ok_or_else(|| DomainError::invalid("mail.petition", "required"))?;
                if source.unit_code != mail.source_unit {
                    // A unit transfers its own petitions only.
                    return Err(DomainError::precondition(
                        "FORGED_ORIGIN",
                        format!(
                            "unit {} cannot transfer a petition of unit {}",
                            mail.source_unit, source.unit_code
                        ),
                    ));
                }
                // Received here when the source handed it over.
                let received = source.processed_time.unwrap_or(now).min(now);
                let (_, due_date) = self.deadlines().petition_due(received, None);
                let petition = Petition {
                    id: self.next_id(tx, "P").await?,
                    unit_code: self.code(),
                    received_time: received,
                    channel: Channel::TransferredIn,
                    summary: source.summary.clone(),
                    status: PetitionStatus::Received,
                    anonymous: source.anonymous,
                    signers: source.signers,
                    visit_id: None,
                    classification: None,
                    case_id: None,
                    transferred_to_unit: None,
                    outside_body: None,
                    file_reason: None,
                    note: t.note.clone(),
                    due_date,
                    processed_time: None,
                    version: 1,
                    update_time: now,
                    source_petition_id: Some(source.id.clone()),
                    source_unit: Some(source.unit_code.clone()),
                    result: None,
                };
                repo::insert_petition(tx, &petition).await?;
                let opened = if t.sealed_petitioner.is_empty() {
                    t.petitioner.clone()
                } else {
                    Some(self.unseal(tx, &t.sealed_petitioner).await?)
                };
                if let Some(person) = &opened {
                    let person = crate::domain::model::Petitioner {
                        full_name: person.full_name.clone(),
                        address: person.address.clone(),
                        id_number: person.id_number.clone(),
                        phone: person.phone.clone(),
                        email: person.email.clone(),
                    };
                    repo::insert_petitioner(tx, &petition.id, &person).await?;
                }
                self.log_petition(tx, now, "ReceiveTransfer", &petition)
                    .await?;
                delta.record(&self.tree(), &[], &tally::petition(&petition));
            }
            Some(pb::mail::Content::CaseResult(r)) => {
                let case = r
                    .case
                    .as_ref()
                    .map(wire::inbound::case)
                    .transpose()?
                    .ok_or_else(|| DomainError::invalid("mail.case", "required"))?;
                let Some(mut p) = repo::find_petition(tx, &r.source_petition_id).await? else {
                    tracing::warn!(petition = %r.source_petition_id, "result for an unknown petition");
                    return Ok(());
                };
                // The unit it was transferred to, or the one that took that unit over.
                let handled_by = p
                    .transferred_to_unit
                    .as_deref()
                    .map(|u| self.tree().history().custodian(u));
                if !self.holds(&p.unit_code) || handled_by.as_deref() != Some(&mail.source_unit) {
                    // Only the unit this node transferred its petition to resolves it.
                    tracing::warn!(
                        petition = %p.id,
                        from = %mail.source_unit,
                        "result for a petition not transferred there; ignored"
                    );
                    return Ok(());
                }
                if let (Some(outcome), Some(decision_time)) = (case.outcome, case.decision_time) {
                    p.result = Some(PetitionResult {
                        case_id: case.id.clone(),
                        outcome,
                        decision_time,
                    });
                    p.version += 1;
                    p.update_time = now;
                    repo::update_petition(tx, &p).await?;
                    self.log_petition(tx, now, "ReceiveCaseResult", &p).await?;
                }
            }
            None => return Err(DomainError::invalid("mail.content", "required")),
        }
        Ok(())
    }
}
