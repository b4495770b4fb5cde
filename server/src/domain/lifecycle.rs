//! The lifecycle of petitions and cases: the one place where a petition or a case changes
//! state. Each command is checked against the transition table, then against the domain's
//! rules, and yields the record after the change; the caller stores it or nothing.

use chrono::{DateTime, Utc};

use super::error::DomainError;
use super::model::{
    Case, CaseOutcome, CaseStatus, Classification, Eligibility, FileReason, Jurisdiction, Petition,
    PetitionStatus, PetitionType,
};

/// Where a transferred petition goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A unit of the tree, by code.
    Unit(String),
    /// A body outside the tree.
    Outside(String),
}

/// What can be done to a petition.
#[derive(Debug, Clone, PartialEq)]
pub enum PetitionCommand {
    /// Classify by content, eligibility and jurisdiction (again, while not routed).
    Classify(Classification),
    /// Thụ lý into the given case (new or existing).
    Accept { case_id: String },
    /// Hướng dẫn: guide the petitioner to a competent body.
    Guide { outside_body: String, note: String },
    /// Chuyển đơn.
    Transfer {
        destination: Destination,
        note: String,
    },
    /// Đôn đốc the lower body that is late.
    Urge { outside_body: String, note: String },
    /// Return to the petitioner.
    Return { note: String },
    /// Rút.
    Withdraw { note: String },
    /// Lưu đơn.
    File { reason: FileReason, note: String },
}

/// The actions of [`PetitionCommand`], for the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PetitionAction {
    Classify,
    Accept,
    Guide,
    Transfer,
    Urge,
    Return,
    Withdraw,
    File,
}

impl PetitionAction {
    /// Every action.
    pub const ALL: &'static [PetitionAction] = &[
        PetitionAction::Classify,
        PetitionAction::Accept,
        PetitionAction::Guide,
        PetitionAction::Transfer,
        PetitionAction::Urge,
        PetitionAction::Return,
        PetitionAction::Withdraw,
        PetitionAction::File,
    ];

    /// Name of the action in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PetitionAction::Classify => "classify",
            PetitionAction::Accept => "accept",
            PetitionAction::Guide => "guide",
            PetitionAction::Transfer => "transfer",
            PetitionAction::Urge => "urge",
            PetitionAction::Return => "return",
            PetitionAction::Withdraw => "withdraw",
            PetitionAction::File => "file",
        }
    }
}

impl PetitionCommand {
    /// The action this command performs.
    pub fn action(&self) -> PetitionAction {
        match self {
            PetitionCommand::Classify(_) => PetitionAction::Classify,
            PetitionCommand::Accept { .. } => PetitionAction::Accept,
            PetitionCommand::Guide { .. } => PetitionAction::Guide,
            PetitionCommand::Transfer { .. } => PetitionAction::Transfer,
            PetitionCommand::Urge { .. } => PetitionAction::Urge,
            PetitionCommand::Return { .. } => PetitionAction::Return,
            PetitionCommand::Withdraw { .. } => PetitionAction::Withdraw,
            PetitionCommand::File { .. } => PetitionAction::File,
        }
    }
}

/// The petition transition table: the state after `action` from `from`, or `None` when the
/// action is not allowed there. Routing decisions need a classified petition; a petitioner
/// may withdraw until the petition is routed; every routed state is final for the petition
/// (an accepted petition's matter goes on in its case).
pub fn petition_transition(from: PetitionStatus, action: PetitionAction) -> Option<PetitionStatus> {
    use PetitionAction as A;
    use PetitionStatus as S;
    match (from, action) {
        (S::Received | S::Classified, A::Classify) => Some(S::Classified),
        (S::Received | S::Classified, A::Withdraw) => Some(S::Withdrawn),
        (S::Classified, A::Accept) => Some(S::Accepted),
        (S::Classified, A::Guide) => Some(S::Guided),
        (S::Classified, A::Transfer) => Some(S::Transferred),
        (S::Classified, A::Urge) => Some(S::Urged),
        (S::Classified, A::Return) => Some(S::Returned),
        (S::Classified, A::File) => Some(S::Filed),
        _ => None,
    }
}

/// Checks a classification against the petition it is for. An anonymous petition is eligible
/// only as a denunciation that gives concrete evidence; a complaint is a first (1) or a second
/// (2) complaint, and nothing else has a round.
pub fn check_classification(
    anonymous: bool,
    classification: &Classification,
    field_prefix: &str,
) -> Result<(), DomainError> {
    let mut violations = super::validate::Violations::default();
    let is_complaint = classification.petition_type == PetitionType::Complaint;
    if is_complaint && !matches!(classification.complaint_round, 1 | 2) {
        violations.add(
            format!("{field_prefix}complaint_round"),
            "a complaint is a first (1) or a second (2) complaint",
        );
    }
    if !is_complaint
        && classification.petition_type != PetitionType::Mixed
        && classification.complaint_round != 0
    {
        violations.add(
            format!("{field_prefix}complaint_round"),
            "only a complaint has a round",
        );
    }
    if anonymous
        && classification.eligibility == Eligibility::Eligible
        && !(classification.petition_type == PetitionType::Denunciation
            && classification.has_evidence)
    {
        violations.add(
            format!("{field_prefix}eligibility"),
            "an anonymous petition is eligible only as a denunciation with concrete evidence",
        );
    }
    violations.finish()
}

/// Applies a command to a petition at `at`, returning the petition after the change.
pub fn apply_petition(
    petition: &Petition,
    command: PetitionCommand,
    at: DateTime<Utc>,
) -> Result<Petition, DomainError> {
    let action = command.action();
    let Some(next) = petition_transition(petition.status, action) else {
        return Err(DomainError::Transition {
            kind: "petition",
            id: petition.id.clone(),
            state: petition.status.as_str(),
            action: action.as_str(),
        });
    };
    let mut after = petition.clone();
    let classified = petition.classification;
    match command {
        PetitionCommand::Classify(classification) => {
            check_classification(petition.anonymous, &classification, "classification.")?;
            after.classification = Some(classification);
        }
        PetitionCommand::Accept { case_id } => {
            let c = required_classification(petition)?;
            if c.eligibility != Eligibility::Eligible {
                return Err(DomainError::precondition(
                    "NOT_ELIGIBLE",
                    format!(
                        "petition {} is not eligible for handling; file or return it",
                        petition.id
                    ),
                ));
            }
            if c.jurisdiction != Jurisdiction::Within {
                return Err(DomainError::precondition(
                    "OUTSIDE_JURISDICTION",
                    format!(
                        "petition {} is outside this unit's jurisdiction; guide or transfer it",
                        petition.id
                    ),
                ));
            }
            after.case_id = Some(case_id);
        }
        PetitionCommand::Guide { outside_body, note } => {
            require_outside(petition, classified, "guide")?;
            after.outside_body = Some(outside_body);
            after.note = note;
        }
        PetitionCommand::Transfer { destination, note } => {
            require_outside(petition, classified, "transfer")?;
            match destination {
                Destination::Unit(code) => after.transferred_to_unit = Some(code),
                Destination::Outside(body) => after.outside_body = Some(body),
            }
            after.note = note;
        }
        PetitionCommand::Urge { outside_body, note } => {
            require_outside(petition, classified, "urge")?;
            after.outside_body = Some(outside_body);
            after.note = note;
        }
        PetitionCommand::Return { note } | PetitionCommand::Withdraw { note } => {
            after.note = note;
        }
        PetitionCommand::File { reason, note } => {
            let c = required_classification(petition)?;
            if reason == FileReason::Ineligible && c.eligibility != Eligibility::Ineligible {
                return Err(DomainError::precondition(
                    "ELIGIBLE",
                    format!(
                        "petition {} was classified eligible; it cannot be filed as ineligible",
                        petition.id
                    ),
                ));
            }
            after.file_reason = Some(reason);
            after.note = note;
        }
    }
    after.status = next;
    if petition.status.is_pending() && !next.is_pending() {
        after.processed_time = Some(at);
    }
    after.version += 1;
    after.update_time = at;
    Ok(after)
}

fn required_classification(petition: &Petition) -> Result<Classification, DomainError> {
    petition.classification.ok_or_else(|| {
        DomainError::precondition(
            "NOT_CLASSIFIED",
            format!("petition {} is not classified", petition.id),
        )
    })
}

fn require_outside(
    petition: &Petition,
    classification: Option<Classification>,
    action: &str,
) -> Result<(), DomainError> {
    match classification.map(|c| c.jurisdiction) {
        Some(Jurisdiction::Outside) => Ok(()),
        _ => Err(DomainError::precondition(
            "WITHIN_JURISDICTION",
            format!(
                "petition {} is within this unit's jurisdiction: accept it instead of {action}",
                petition.id
            ),
        )),
    }
}

/// What can be done to a case.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseCommand {
    /// Attach another petition about the same matter.
    Attach { petition_id: String },
    /// Extend the limit: a denunciation's extension, or declaring a complaint complex.
    Extend { max_denunciation_extensions: u32 },
    /// Issue the decision (or record the withdrawal).
    Resolve {
        outcome: CaseOutcome,
        decision_number: String,
        decision_time: DateTime<Utc>,
        money_to_recover_vnd: i64,
        land_to_recover_m2: f64,
    },
    /// The decision came into legal force.
    InForce { effective_time: DateTime<Utc> },
    /// A step of enforcement.
    Enforce {
        money_recovered_vnd: i64,
        land_recovered_m2: f64,
        completed: bool,
        enforcement_time: DateTime<Utc>,
    },
}

/// The actions of [`CaseCommand`], for the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseAction {
    Attach,
    Extend,
    Resolve,
    Withdraw,
    InForce,
    Enforce,
    CompleteEnforcement,
}

impl CaseAction {
    /// Every action.
    pub const ALL: &'static [CaseAction] = &[
        CaseAction::Attach,
        CaseAction::Extend,
        CaseAction::Resolve,
        CaseAction::Withdraw,
        CaseAction::InForce,
        CaseAction::Enforce,
        CaseAction::CompleteEnforcement,
    ];

    /// Name of the action in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseAction::Attach => "attach a petition",
            CaseAction::Extend => "extend",
            CaseAction::Resolve => "resolve",
            CaseAction::Withdraw => "withdraw",
            CaseAction::InForce => "record coming into force",
            CaseAction::Enforce => "record enforcement",
            CaseAction::CompleteEnforcement => "complete enforcement",
        }
    }
}

impl CaseCommand {
    /// The action this command performs.
    pub fn action(&self) -> CaseAction {
        match self {
            CaseCommand::Attach { .. } => CaseAction::Attach,
            CaseCommand::Extend { .. } => CaseAction::Extend,
            CaseCommand::Resolve {
                outcome: CaseOutcome::Withdrawn,
                ..
            } => CaseAction::Withdraw,
            CaseCommand::Resolve { .. } => CaseAction::Resolve,
            CaseCommand::InForce { .. } => CaseAction::InForce,
            CaseCommand::Enforce {
                completed: true, ..
            } => CaseAction::CompleteEnforcement,
            CaseCommand::Enforce { .. } => CaseAction::Enforce,
        }
    }
}

/// The case transition table.
pub fn case_transition(from: CaseStatus, action: CaseAction) -> Option<CaseStatus> {
    use CaseAction as A;
    use CaseStatus as S;
    match (from, action) {
        (S::Open, A::Attach | A::Extend) => Some(S::Open),
        (S::Open, A::Resolve) => Some(S::Resolved),
        (S::Open, A::Withdraw) => Some(S::Withdrawn),
        (S::Resolved, A::InForce) => Some(S::InForce),
        (S::InForce, A::Enforce) => Some(S::InForce),
        (S::InForce, A::CompleteEnforcement) => Some(S::Enforced),
        _ => None,
    }
}

/// Applies a command to a case at `at`, returning the case after the change. The caller
/// recomputes the deadline after an extension.
pub fn apply_case(
    case: &Case,
    command: CaseCommand,
    at: DateTime<Utc>,
) -> Result<Case, DomainError> {
    let action = command.action();
    let Some(next) = case_transition(case.status, action) else {
        return Err(DomainError::Transition {
            kind: "case",
            id: case.id.clone(),
            state: case.status.as_str(),
            action: action.as_str(),
        });
    };
    let mut after = case.clone();
    match command {
        CaseCommand::Attach { petition_id } => {
            if !after.petition_ids.contains(&petition_id) {
                after.petition_ids.push(petition_id);
            }
        }
        CaseCommand::Extend {
            max_denunciation_extensions,
        } => match case.case_type {
            PetitionType::Denunciation => {
                if case.extensions >= max_denunciation_extensions {
                    return Err(DomainError::precondition(
                        "NO_EXTENSION_LEFT",
                        format!(
                            "case {} already had {} extensions, the most allowed",
                            case.id, case.extensions
                        ),
                    ));
                }
                after.extensions += 1;
                after.complex = true;
            }
            PetitionType::Complaint | PetitionType::Mixed => {
                if case.complex {
                    return Err(DomainError::precondition(
                        "ALREADY_COMPLEX",
                        format!("case {} is already declared complex", case.id),
                    ));
                }
                after.complex = true;
            }
            PetitionType::Recommendation => {
                return Err(DomainError::precondition(
                    "NOT_EXTENDABLE",
                    format!(
                        "case {} is a recommendation: its limit cannot be extended",
                        case.id
                    ),
                ));
            }
        },
        CaseCommand::Resolve {
            outcome,
            decision_number,
            decision_time,
            money_to_recover_vnd,
            land_to_recover_m2,
        } => {
            if !outcome.fits(case.case_type) {
                return Err(DomainError::invalid(
                    "outcome",
                    format!(
                        "outcome {outcome} does not fit a {} case",
                        case.case_type.as_str()
                    ),
                ));
            }
            if decision_time < case.accept_time {
                return Err(DomainError::invalid(
                    "decision_time",
                    "the decision cannot precede the acceptance of the case",
                ));
            }
            after.outcome = Some(outcome);
            after.decision_number = decision_number;
            after.decision_time = Some(decision_time);
            after.money_to_recover_vnd = money_to_recover_vnd;
            after.land_to_recover_m2 = land_to_recover_m2;
        }
        CaseCommand::InForce { effective_time } => {
            if case.decision_time.is_some_and(|d| effective_time < d) {
                return Err(DomainError::invalid(
                    "effective_time",
                    "a decision cannot come into force before it is issued",
                ));
            }
            after.effective_time = Some(effective_time);
        }
        CaseCommand::Enforce {
            money_recovered_vnd,
            land_recovered_m2,
            completed,
            enforcement_time,
        } => {
            if case.effective_time.is_some_and(|e| enforcement_time < e) {
                return Err(DomainError::invalid(
                    "enforcement_time",
                    "enforcement cannot precede the decision's coming into force",
                ));
            }
            after.money_recovered_vnd = after
                .money_recovered_vnd
                .checked_add(money_recovered_vnd)
                .ok_or_else(|| DomainError::invalid("money_recovered_vnd", "total overflows"))?;
            after.land_recovered_m2 += land_recovered_m2;
            if completed {
                after.enforced_time = Some(enforcement_time);
            }
        }
    }
    after.status = next;
    after.version += 1;
    after.update_time = at;
    Ok(after)
}

#[cfg(test)]
mod tests;
