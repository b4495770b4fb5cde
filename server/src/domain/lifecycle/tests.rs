use super::*;
use crate::domain::model::{Channel, Field};
use chrono::{NaiveDate, TimeZone};

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2019, 3, day, 3, 0, 0)
        .single()
        .unwrap_or_default()
}

fn petition(status: PetitionStatus, classification: Option<Classification>) -> Petition {
    Petition {
        id: "00001.P.1".into(),
        unit_code: "00001".into(),
        received_time: at(1),
        channel: Channel::Post,
        summary: "land dispute".into(),
        status,
        anonymous: false,
        signers: 1,
        visit_id: None,
        classification,
        case_id: None,
        transferred_to_unit: None,
        outside_body: None,
        file_reason: None,
        note: String::new(),
        due_date: NaiveDate::from_ymd_opt(2019, 3, 11).unwrap_or_default(),
        processed_time: None,
        version: 1,
        update_time: at(1),
        source_petition_id: None,
        source_unit: None,
        result: None,
    }
}

fn classification(eligibility: Eligibility, jurisdiction: Jurisdiction) -> Classification {
    Classification {
        petition_type: PetitionType::Complaint,
        field: Field::LandHousing,
        complaint_round: 1,
        eligibility,
        jurisdiction,
        has_evidence: false,
    }
}

/// The allowed transitions, written out from DOMAIN.md independently of the match above.
const ALLOWED: &[(PetitionStatus, PetitionAction, PetitionStatus)] = {
    use PetitionAction as A;
    use PetitionStatus as S;
    &[
        (S::Received, A::Classify, S::Classified),
        (S::Received, A::Withdraw, S::Withdrawn),
        (S::Classified, A::Classify, S::Classified),
        (S::Classified, A::Withdraw, S::Withdrawn),
        (S::Classified, A::Accept, S::Accepted),
        (S::Classified, A::Guide, S::Guided),
        (S::Classified, A::Transfer, S::Transferred),
        (S::Classified, A::Urge, S::Urged),
        (S::Classified, A::Return, S::Returned),
        (S::Classified, A::File, S::Filed),
    ]
};

#[test]
fn petition_table_allows_exactly_the_listed_transitions() {
    for &from in PetitionStatus::ALL {
        for &action in PetitionAction::ALL {
            let expected = ALLOWED
                .iter()
                .find(|(f, a, _)| *f == from && *a == action)
                .map(|(_, _, to)| *to);
            assert_eq!(
                petition_transition(from, action),
                expected,
                "{from} {action:?}"
            );
        }
    }
}

#[test]
fn refused_transition_names_the_current_state() {
    let p = petition(PetitionStatus::Filed, None);
    let err = apply_petition(&p, PetitionCommand::Return { note: "x".into() }, at(2))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("is filed"), "{err}");
}

#[test]
fn accept_needs_eligible_and_within_jurisdiction() {
    let cmd = || PetitionCommand::Accept {
        case_id: "c".into(),
    };
    let outside = petition(
        PetitionStatus::Classified,
        Some(classification(Eligibility::Eligible, Jurisdiction::Outside)),
    );
    assert!(matches!(
        apply_petition(&outside, cmd(), at(2)),
        Err(DomainError::Precondition {
            reason: "OUTSIDE_JURISDICTION",
            ..
        })
    ));
    let ineligible = petition(
        PetitionStatus::Classified,
        Some(classification(
            Eligibility::Ineligible,
            Jurisdiction::Within,
        )),
    );
    assert!(matches!(
        apply_petition(&ineligible, cmd(), at(2)),
        Err(DomainError::Precondition {
            reason: "NOT_ELIGIBLE",
            ..
        })
    ));
    let good = petition(
        PetitionStatus::Classified,
        Some(classification(Eligibility::Eligible, Jurisdiction::Within)),
    );
    let after = apply_petition(&good, cmd(), at(2)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after.status, PetitionStatus::Accepted);
    assert_eq!(after.processed_time, Some(at(2)));
    assert_eq!(after.version, 2);
}

#[test]
fn transfer_refused_within_jurisdiction() {
    let p = petition(
        PetitionStatus::Classified,
        Some(classification(Eligibility::Eligible, Jurisdiction::Within)),
    );
    let cmd = PetitionCommand::Transfer {
        destination: Destination::Unit("269".into()),
        note: String::new(),
    };
    assert!(apply_petition(&p, cmd, at(2)).is_err());
}

#[test]
fn anonymous_is_eligible_only_as_denunciation_with_evidence() {
    let mut c = classification(Eligibility::Eligible, Jurisdiction::Within);
    assert!(check_classification(true, &c, "").is_err());
    c.petition_type = PetitionType::Denunciation;
    c.complaint_round = 0;
    assert!(check_classification(true, &c, "").is_err());
    c.has_evidence = true;
    assert!(check_classification(true, &c, "").is_ok());
}

#[test]
fn case_table() {
    use CaseAction as A;
    use CaseStatus as S;
    let allowed = [
        (S::Open, A::Attach, S::Open),
        (S::Open, A::Extend, S::Open),
        (S::Open, A::Resolve, S::Resolved),
        (S::Open, A::Withdraw, S::Withdrawn),
        (S::Resolved, A::InForce, S::InForce),
        (S::InForce, A::Enforce, S::InForce),
        (S::InForce, A::CompleteEnforcement, S::Enforced),
    ];
    for &from in CaseStatus::ALL {
        for &action in CaseAction::ALL {
            let expected = allowed
                .iter()
                .find(|(f, a, _)| *f == from && *a == action)
                .map(|(_, _, to)| *to);
            assert_eq!(case_transition(from, action), expected, "{from} {action:?}");
        }
    }
}

#[test]
fn outcome_must_fit_case_type() {
    assert!(CaseOutcome::ComplaintCorrect.fits(PetitionType::Complaint));
    assert!(!CaseOutcome::ComplaintCorrect.fits(PetitionType::Denunciation));
    assert!(!CaseOutcome::DenunciationFounded.fits(PetitionType::Recommendation));
    assert!(CaseOutcome::Withdrawn.fits(PetitionType::Recommendation));
}
