//! A node with one client per service, the suites' home unit, and the valid requests the
//! `api_*` suites start from.

use super::*;

/// Code of the unit the suites' nodes serve: thị xã Sơn Tây, below Hà Nội.
pub const HOME: &str = "269";

/// A node with a client per service.
pub struct Api {
    pub node: TestNode,
    pub units: pb::unit_service_client::UnitServiceClient<Channel>,
    pub reception: pb::reception_service_client::ReceptionServiceClient<Channel>,
    pub petitions: pb::petition_service_client::PetitionServiceClient<Channel>,
    pub cases: pb::case_service_client::CaseServiceClient<Channel>,
    pub journal: pb::journal_service_client::JournalServiceClient<Channel>,
}

/// The suites' unit: thị xã Sơn Tây (269), as the root of the tree its node knows. (Placed
/// below Hà Nội (01), which its database does not hold, it could not register units below
/// itself: see `api_reception::register_below_a_unit_whose_parent_is_unknown`.)
pub fn home_unit() -> Unit {
    unit(HOME, "Thị xã Sơn Tây", UnitLevel::District, Some("01"))
}

impl Api {
    /// A node for [`home_unit`] on `backend`.
    pub async fn start(backend: Backend) -> Api {
        Api::start_unit(backend, home_unit()).await
    }

    /// A node for `unit` on `backend`.
    pub async fn start_unit(backend: Backend, unit: Unit) -> Api {
        let node = TestNode::start(backend, unit).await;
        Api::connect(node).await
    }

    /// Clients of a running node.
    pub async fn connect(node: TestNode) -> Api {
        let ch = node.channel().await;
        Api {
            units: pb::unit_service_client::UnitServiceClient::new(ch.clone()),
            reception: pb::reception_service_client::ReceptionServiceClient::new(ch.clone()),
            petitions: pb::petition_service_client::PetitionServiceClient::new(ch.clone()),
            cases: pb::case_service_client::CaseServiceClient::new(ch.clone()),
            journal: pb::journal_service_client::JournalServiceClient::new(ch),
            node,
        }
    }

    /// Stops the node.
    pub async fn stop(self) {
        drop(self.node.stop().await);
    }

    /// The journal's last sequence of this node's own unit.
    pub async fn last_seq(&mut self) -> u64 {
        ok(self
            .journal
            .list_journal_events(pb::ListJournalEventsRequest::default())
            .await)
        .last_sequence
    }

    /// Journal events after `seq`.
    pub async fn events_after(&mut self, seq: u64) -> Vec<pb::JournalEvent> {
        ok(self
            .journal
            .list_journal_events(pb::ListJournalEventsRequest {
                after_sequence: seq,
                page_size: 1000,
                ..Default::default()
            })
            .await)
        .events
    }

    /// Asserts that the journal holds exactly `n` events after `seq` and returns their
    /// actions.
    pub async fn grew_by(&mut self, seq: u64, n: u64) -> Vec<pb::JournalEvent> {
        let last = self.last_seq().await;
        assert_eq!(last, seq + n, "journal should have grown by {n}");
        let events = self.events_after(seq).await;
        assert_eq!(events.len() as u64, n);
        events
    }

    pub async fn get_petition(&mut self, id: &str) -> pb::Petition {
        ok(self
            .petitions
            .get_petition(pb::GetPetitionRequest {
                petition_id: id.to_string(),
                ..Default::default()
            })
            .await)
        .petition
        .unwrap()
    }

    pub async fn get_case(&mut self, id: &str) -> pb::Case {
        ok(self
            .cases
            .get_case(pb::GetCaseRequest {
                case_id: id.to_string(),
            })
            .await)
        .case
        .unwrap()
    }

    /// Receives a named petition at `at`, classified at receipt when `class` is given.
    pub async fn receive(
        &mut self,
        at: DateTime<Utc>,
        class: Option<pb::Classification>,
    ) -> pb::Petition {
        ok(self
            .petitions
            .receive_petition(receive_req(at, class))
            .await)
        .petition
        .unwrap()
    }

    /// Receives a petition classified at receipt.
    pub async fn receive_as(
        &mut self,
        at: DateTime<Utc>,
        ty: pb::PetitionType,
        eligibility: pb::Eligibility,
        jurisdiction: pb::Jurisdiction,
    ) -> pb::Petition {
        self.receive(at, Some(class(ty, eligibility, jurisdiction)))
            .await
    }

    /// Receives an eligible petition of type `ty` within jurisdiction and accepts it into a
    /// new case.
    pub async fn open_case(
        &mut self,
        ty: pb::PetitionType,
        received: DateTime<Utc>,
        accepted: DateTime<Utc>,
        complex: bool,
    ) -> (pb::Petition, pb::Case) {
        let p = self
            .receive_as(
                received,
                ty,
                pb::Eligibility::Eligible,
                pb::Jurisdiction::Within,
            )
            .await;
        self.accept_new(&p.id, accepted, complex).await
    }

    /// Accepts a petition into a new case.
    pub async fn accept_new(
        &mut self,
        petition_id: &str,
        at: DateTime<Utc>,
        complex: bool,
    ) -> (pb::Petition, pb::Case) {
        let r = ok(self
            .petitions
            .accept_petition(accept_req(petition_id, at, complex))
            .await);
        (r.petition.unwrap(), r.case.unwrap())
    }

    /// Resolves a case with `outcome` at `at`.
    pub async fn resolve(
        &mut self,
        case_id: &str,
        outcome: pb::CaseOutcome,
        at: DateTime<Utc>,
    ) -> pb::Case {
        ok(self
            .cases
            .resolve_case(pb::ResolveCaseRequest {
                request_id: rid(),
                case_id: case_id.to_string(),
                outcome: outcome as i32,
                decision_number: "01/QĐ-UBND".into(),
                decision_time: ts(at),
                ..Default::default()
            })
            .await)
        .case
        .unwrap()
    }

    /// Records a visit received by `role`.
    pub async fn visit(
        &mut self,
        at: DateTime<Utc>,
        role: pb::ReceiverRole,
        persons: u32,
    ) -> pb::Visit {
        ok(self
            .reception
            .record_visit(visit_req(at, role, persons))
            .await)
        .visit
        .unwrap()
    }

    /// Registers a unit below a known one.
    pub async fn register_unit(&mut self, code: &str, parent: &str, name: &str) -> pb::Unit {
        ok(self
            .units
            .register_unit(pb::RegisterUnitRequest {
                request_id: rid(),
                unit: Some(pb::Unit {
                    code: code.into(),
                    name: name.into(),
                    level: if code.len() == 5 {
                        pb::UnitLevel::Ward as i32
                    } else {
                        pb::UnitLevel::District as i32
                    },
                    parent_code: parent.into(),
                    remote: false,
                }),
            })
            .await)
        .unit
        .unwrap()
    }
}

/// A classification with the usual field and round for its type.
pub fn class(
    ty: pb::PetitionType,
    eligibility: pb::Eligibility,
    jurisdiction: pb::Jurisdiction,
) -> pb::Classification {
    pb::Classification {
        r#type: ty as i32,
        field: if ty == pb::PetitionType::Denunciation {
            pb::Field::Corruption as i32
        } else {
            pb::Field::LandHousing as i32
        },
        complaint_round: if ty == pb::PetitionType::Complaint {
            1
        } else {
            0
        },
        eligibility: eligibility as i32,
        jurisdiction: jurisdiction as i32,
        has_evidence: false,
    }
}

/// A valid ReceivePetition request from a named petitioner.
pub fn receive_req(
    at: DateTime<Utc>,
    class: Option<pb::Classification>,
) -> pb::ReceivePetitionRequest {
    pb::ReceivePetitionRequest {
        request_id: rid(),
        received_time: ts(at),
        channel: pb::Channel::Post as i32,
        summary: "tranh chấp ranh giới đất".into(),
        petitioner: Some(pb::Petitioner {
            full_name: "Nguyễn Văn A".into(),
            address: "Sơn Tây, Hà Nội".into(),
            ..Default::default()
        }),
        signers: 1,
        visit_id: String::new(),
        classification: class,
    }
}

/// A valid AcceptPetition request into a new case.
pub fn accept_req(
    petition_id: &str,
    at: DateTime<Utc>,
    complex: bool,
) -> pb::AcceptPetitionRequest {
    pb::AcceptPetitionRequest {
        request_id: rid(),
        petition_id: petition_id.to_string(),
        accept_time: ts(at),
        target: Some(pb::accept_petition_request::Target::NewCase(pb::NewCase {
            complex,
        })),
    }
}

/// A valid RecordVisit request.
pub fn visit_req(
    at: DateTime<Utc>,
    role: pb::ReceiverRole,
    persons: u32,
) -> pb::RecordVisitRequest {
    pb::RecordVisitRequest {
        request_id: rid(),
        visit_time: ts(at),
        kind: pb::ReceptionKind::Regular as i32,
        receiver_role: role as i32,
        receiver_name: "Trần Văn B".into(),
        persons,
        matter: pb::MatterKind::First as i32,
        action: pb::ReceptionAction::Accepted as i32,
        summary: "hỏi về bồi thường giải phóng mặt bằng".into(),
        schedule_entry_id: String::new(),
    }
}
