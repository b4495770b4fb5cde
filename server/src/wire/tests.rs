use super::*;

#[test]
fn records_from_the_link_keep_text_the_api_now_refuses() {
    // A child may have journaled a name with a bidi mark before the API refused them.
    let recorded = pb::Unit {
        code: "09574".into(),
        name: "Phường\u{200f} Ngô Quyền".into(),
        level: UnitLevel::Ward.to_wire(),
        parent_code: "269".into(),
        remote: false,
    };
    let unit = inbound::unit(&recorded).map(|u| u.name);
    assert_eq!(unit.ok().as_deref(), Some("Phường\u{200f} Ngô Quyền"));
}

#[test]
fn every_enum_round_trips_and_unspecified_is_none() {
    for &v in PetitionStatus::ALL {
        assert_eq!(PetitionStatus::from_wire(v.to_wire()), Some(v));
    }
    for &v in CaseOutcome::ALL {
        assert_eq!(CaseOutcome::from_wire(v.to_wire()), Some(v));
    }
    for &v in Field::ALL {
        assert_eq!(Field::from_wire(v.to_wire()), Some(v));
    }
    assert_eq!(PetitionType::from_wire(0), None);
    assert_eq!(PetitionType::from_wire(99), None);
}

#[test]
fn malformed_timestamps_are_refused() {
    assert!(
        instant(&Timestamp {
            seconds: 0,
            nanos: -1
        })
        .is_none()
    );
    assert!(
        instant(&Timestamp {
            seconds: 0,
            nanos: 1_000_000_000
        })
        .is_none()
    );
    assert!(
        instant(&Timestamp {
            seconds: i64::MAX,
            nanos: 0
        })
        .is_none()
    );
    assert!(
        instant(&Timestamp {
            seconds: 1,
            nanos: 1500
        })
        .is_some()
    );
}
