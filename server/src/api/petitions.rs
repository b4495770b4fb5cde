//! `tiepdan.v1.PetitionService`.

use tiepdan_proto::v1::{self as pb, petition_service_server::PetitionService};
use tonic::{Request, Response, Status};

use super::{Check, checked, encode_token, opt_string};
use crate::app::{AcceptTarget, App, NewPetition, Overdue, PersonalDataAccess, Reader, RequestKey};
use crate::auth::Claims;
use crate::domain::deadlines;
use crate::domain::lifecycle::{Destination, PetitionCommand};
use crate::domain::model::{
    Channel, Classification, Eligibility, Field, FileReason, Jurisdiction, PetitionStatus,
    PetitionType, Petitioner,
};
use crate::domain::validate::{MAX_NAME, MAX_TEXT};
use crate::storage::records::PetitionFilter;
use crate::wire;

/// Handlers of the petition service.
pub struct PetitionApi {
    pub app: App,
}

/// Most signers one petition can record.
const MAX_SIGNERS: u32 = 100_000;

impl PetitionApi {
    fn petition(&self, p: &crate::domain::model::Petition) -> pb::Petition {
        wire::petition(p, self.app.deadlines(), Some(chrono::Utc::now()))
    }

    async fn decide(
        &self,
        key: RequestKey,
        petition_id: &str,
        command: PetitionCommand,
        at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<pb::Petition, Status> {
        let p = self
            .app
            .decide_petition(&key, petition_id, command, at)
            .await?;
        Ok(self.petition(&p))
    }
}

fn classification(
    c: &mut Check,
    prefix: &str,
    input: Option<&pb::Classification>,
) -> Option<Classification> {
    let input = input?;
    let petition_type = c.required::<PetitionType>(&format!("{prefix}type"), input.r#type);
    let field = c.required::<Field>(&format!("{prefix}field"), input.field);
    let eligibility = c.required::<Eligibility>(&format!("{prefix}eligibility"), input.eligibility);
    let jurisdiction =
        c.required::<Jurisdiction>(&format!("{prefix}jurisdiction"), input.jurisdiction);
    Some(Classification {
        petition_type: petition_type?,
        field: field?,
        complaint_round: input.complaint_round,
        eligibility: eligibility?,
        jurisdiction: jurisdiction?,
        has_evidence: input.has_evidence,
    })
}

/// Who calls: the token's subject and role the auth layer put in the request, or an
/// unauthenticated caller on a node that checks no tokens.
fn reader<T>(request: &Request<T>) -> Reader {
    request
        .extensions()
        .get::<Claims>()
        .map_or_else(Reader::unauthenticated, |claims| Reader {
            subject: claims.subject.clone(),
            role: claims.role.to_string(),
        })
}

/// A recorded read of personal details, as the API answers it.
fn access(a: &PersonalDataAccess) -> pb::PersonalDataAccess {
    pb::PersonalDataAccess {
        sequence: a.id,
        access_time: Some(wire::timestamp(a.at)),
        subject: a.subject.clone(),
        role: a.role.clone(),
        petition_id: a.petition_id.clone(),
        action: a.action.clone(),
        reason: a.reason.clone(),
    }
}

fn petitioner(c: &mut Check, input: Option<&pb::Petitioner>) -> Option<Petitioner> {
    let p = input?;
    c.v.text("petitioner.full_name", &p.full_name, MAX_NAME, true);
    c.v.text("petitioner.address", &p.address, MAX_NAME, false);
    c.v.id_number("petitioner.id_number", &p.id_number);
    c.v.phone("petitioner.phone", &p.phone);
    c.v.email("petitioner.email", &p.email);
    Some(Petitioner {
        full_name: p.full_name.trim().to_string(),
        address: p.address.clone(),
        id_number: p.id_number.clone(),
        phone: p.phone.clone(),
        email: p.email.clone(),
    })
}

#[tonic::async_trait]
impl PetitionService for PetitionApi {
    async fn receive_petition(
        &self,
        request: Request<pb::ReceivePetitionRequest>,
    ) -> Result<Response<pb::ReceivePetitionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("ReceivePetition", &req.request_id, &req);
        let received = c.past("received_time", req.received_time.as_ref());
        let channel = c.required::<Channel>("channel", req.channel);
        c.v.text("summary", &req.summary, MAX_TEXT, true);
        c.v.check(req.signers <= MAX_SIGNERS, "signers", "at most 100000");
        c.v.id("visit_id", &req.visit_id, false);
        let person = petitioner(&mut c, req.petitioner.as_ref());
        let class = classification(&mut c, "classification.", req.classification.as_ref());
        c.finish()?;
        let p = self
            .app
            .receive_petition(
                &key,
                NewPetition {
                    received_time: checked(received, "received_time")?,
                    channel: checked(channel, "channel")?,
                    summary: req.summary,
                    petitioner: person,
                    signers: req.signers,
                    visit_id: opt_string(req.visit_id),
                    classification: class,
                },
            )
            .await?;
        Ok(Response::new(pb::ReceivePetitionResponse {
            petition: Some(self.petition(&p)),
        }))
    }

    async fn classify_petition(
        &self,
        request: Request<pb::ClassifyPetitionRequest>,
    ) -> Result<Response<pb::ClassifyPetitionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("ClassifyPetition", &req.request_id, &req);
        c.v.id("petition_id", &req.petition_id, true);
        if req.classification.is_none() {
            c.v.add("classification", "required");
        }
        let class = classification(&mut c, "classification.", req.classification.as_ref());
        let at = c.optional_past("decision_time", req.decision_time.as_ref());
        c.finish()?;
        let command = PetitionCommand::Classify(checked(class, "classification")?);
        let petition = self.decide(key, &req.petition_id, command, at).await?;
        Ok(Response::new(pb::ClassifyPetitionResponse {
            petition: Some(petition),
        }))
    }

    async fn accept_petition(
        &self,
        request: Request<pb::AcceptPetitionRequest>,
    ) -> Result<Response<pb::AcceptPetitionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("AcceptPetition", &req.request_id, &req);
        c.v.id("petition_id", &req.petition_id, true);
        let at = c.past("accept_time", req.accept_time.as_ref());
        let target = match &req.target {
            None => {
                c.v.add("target", "required: new_case or case_id");
                None
            }
            Some(pb::accept_petition_request::Target::NewCase(n)) => {
                Some(AcceptTarget::NewCase { complex: n.complex })
            }
            Some(pb::accept_petition_request::Target::CaseId(id)) => {
                c.v.id("case_id", id, true);
                Some(AcceptTarget::Existing(id.clone()))
            }
        };
        c.finish()?;
        let (petition, case) = self
            .app
            .accept_petition(
                &key,
                &req.petition_id,
                checked(at, "accept_time")?,
                checked(target, "target")?,
            )
            .await?;
        let now = Some(chrono::Utc::now());
        Ok(Response::new(pb::AcceptPetitionResponse {
            petition: Some(self.petition(&petition)),
            case: Some(wire::case(
                &case,
                self.app.deadlines(),
                self.app.remote(),
                now,
            )),
        }))
    }

    async fn guide_petition(
        &self,
        request: Request<pb::GuidePetitionRequest>,
    ) -> Result<Response<pb::GuidePetitionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("GuidePetition", &req.request_id, &req);
        c.v.id("petition_id", &req.petition_id, true);
        c.v.text("outside_body", &req.outside_body, MAX_NAME, true);
        c.v.text("note", &req.note, MAX_TEXT, false);
        let at = c.optional_past("decision_time", req.decision_time.as_ref());
        c.finish()?;
        let command = PetitionCommand::Guide {
            outside_body: req.outside_body,
            note: req.note,
        };
        let petition = self.decide(key, &req.petition_id, command, at).await?;
        Ok(Response::new(pb::GuidePetitionResponse {
            petition: Some(petition),
        }))
    }

    async fn transfer_petition(
        &self,
        request: Request<pb::TransferPetitionRequest>,
    ) -> Result<Response<pb::TransferPetitionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("TransferPetition", &req.request_id, &req);
        c.v.id("petition_id", &req.petition_id, true);
        c.v.text("note", &req.note, MAX_TEXT, false);
        let destination = match &req.destination {
            None => {
                c.v.add("destination", "required: unit_code or outside_body");
                None
            }
            Some(pb::transfer_petition_request::Destination::UnitCode(code)) => {
                c.v.unit_code("unit_code", code);
                Some(Destination::Unit(code.clone()))
            }
            Some(pb::transfer_petition_request::Destination::OutsideBody(body)) => {
                c.v.text("outside_body", body, MAX_NAME, true);
                Some(Destination::Outside(body.clone()))
            }
        };
        let at = c.optional_past("decision_time", req.decision_time.as_ref());
        c.finish()?;
        let command = PetitionCommand::Transfer {
            destination: checked(destination, "destination")?,
            note: req.note,
        };
        let petition = self.decide(key, &req.petition_id, command, at).await?;
        Ok(Response::new(pb::TransferPetitionResponse {
            petition: Some(petition),
        }))
    }

    async fn urge_petition(
        &self,
        request: Request<pb::UrgePetitionRequest>,
    ) -> Result<Response<pb::UrgePetitionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("UrgePetition", &req.request_id, &req);
        c.v.id("petition_id", &req.petition_id, true);
        c.v.text("outside_body", &req.outside_body, MAX_NAME, true);
        c.v.text("note", &req.note, MAX_TEXT, false);
        let at = c.optional_past("decision_time", req.decision_time.as_ref());
        c.finish()?;
        let command = PetitionCommand::Urge {
            outside_body: req.outside_body,
            note: req.note,
        };
        let petition = self.decide(key, &req.petition_id, command, at).await?;
        Ok(Response::new(pb::UrgePetitionResponse {
            petition: Some(petition),
        }))
    }

    async fn return_petition(
        &self,
        request: Request<pb::ReturnPetitionRequest>,
    ) -> Result<Response<pb::ReturnPetitionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("ReturnPetition", &req.request_id, &req);
        c.v.id("petition_id", &req.petition_id, true);
        c.v.text("note", &req.note, MAX_TEXT, true);
        let at = c.optional_past("decision_time", req.decision_time.as_ref());
        c.finish()?;
        let command = PetitionCommand::Return { note: req.note };
        let petition = self.decide(key, &req.petition_id, command, at).await?;
        Ok(Response::new(pb::ReturnPetitionResponse {
            petition: Some(petition),
        }))
    }

    async fn withdraw_petition(
        &self,
        request: Request<pb::WithdrawPetitionRequest>,
    ) -> Result<Response<pb::WithdrawPetitionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("WithdrawPetition", &req.request_id, &req);
        c.v.id("petition_id", &req.petition_id, true);
        c.v.text("note", &req.note, MAX_TEXT, false);
        let at = c.optional_past("decision_time", req.decision_time.as_ref());
        c.finish()?;
        let command = PetitionCommand::Withdraw { note: req.note };
        let petition = self.decide(key, &req.petition_id, command, at).await?;
        Ok(Response::new(pb::WithdrawPetitionResponse {
            petition: Some(petition),
        }))
    }

    async fn file_petition(
        &self,
        request: Request<pb::FilePetitionRequest>,
    ) -> Result<Response<pb::FilePetitionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("FilePetition", &req.request_id, &req);
        c.v.id("petition_id", &req.petition_id, true);
        let reason = c.required::<FileReason>("reason", req.reason);
        let note_required = reason == Some(FileReason::Other);
        c.v.text("note", &req.note, MAX_TEXT, note_required);
        let at = c.optional_past("decision_time", req.decision_time.as_ref());
        c.finish()?;
        let command = PetitionCommand::File {
            reason: checked(reason, "reason")?,
            note: req.note,
        };
        let petition = self.decide(key, &req.petition_id, command, at).await?;
        Ok(Response::new(pb::FilePetitionResponse {
            petition: Some(petition),
        }))
    }

    async fn get_petition(
        &self,
        request: Request<pb::GetPetitionRequest>,
    ) -> Result<Response<pb::GetPetitionResponse>, Status> {
        let reader = reader(&request);
        let req = request.into_inner();
        let mut c = Check::new();
        c.v.id("petition_id", &req.petition_id, true);
        c.v.text("reason", &req.reason, MAX_TEXT, false);
        c.finish()?;
        let (p, person) = self
            .app
            .petition_read_by(&req.petition_id, &reader, "GetPetition", &req.reason)
            .await?;
        let mut petition = self.petition(&p);
        petition.petitioner = person.as_ref().map(wire::petitioner);
        Ok(Response::new(pb::GetPetitionResponse {
            petition: Some(petition),
        }))
    }

    async fn list_petitions(
        &self,
        request: Request<pb::ListPetitionsRequest>,
    ) -> Result<Response<pb::ListPetitionsResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let status = c.optional::<PetitionStatus>("status", req.status);
        let petition_type = c.optional::<PetitionType>("type", req.r#type);
        if !req.unit_code.is_empty() {
            c.v.unit_code("unit_code", &req.unit_code);
        }
        let start = c.bound("start_time", req.start_time.as_ref());
        let end = c.bound("end_time", req.end_time.as_ref());
        let (size, token) = c.page(req.page_size, &req.page_token);
        let now = c.now;
        c.finish()?;
        let filter = PetitionFilter {
            status,
            petition_type,
            unit_code: opt_string(req.unit_code),
            start,
            end,
            due_before: req.overdue_only.then(|| deadlines::local_date(now)),
        };
        let page = self.app.petitions(&filter, token.as_deref(), size).await?;
        Ok(Response::new(pb::ListPetitionsResponse {
            petitions: page.items.iter().map(|p| self.petition(p)).collect(),
            next_page_token: encode_token(page.next_cursor),
        }))
    }

    async fn list_overdue_items(
        &self,
        request: Request<pb::ListOverdueItemsRequest>,
    ) -> Result<Response<pb::ListOverdueItemsResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let as_of = c
            .bound("as_of_time", req.as_of_time.as_ref())
            .unwrap_or(c.now);
        let (size, token) = c.page(req.page_size, &req.page_token);
        c.finish()?;
        let page = self.app.overdue(as_of, token.as_deref(), size).await?;
        let table = self.app.deadlines();
        let remote = self.app.remote();
        let items = page
            .items
            .iter()
            .map(|item| match item {
                Overdue::Petition(p) => pb::OverdueItem {
                    days_overdue: late(p.due_date, as_of),
                    item: Some(pb::overdue_item::Item::Petition(wire::petition(
                        p,
                        table,
                        Some(as_of),
                    ))),
                },
                Overdue::Case(k) => pb::OverdueItem {
                    days_overdue: late(k.due_date, as_of),
                    item: Some(pb::overdue_item::Item::Case(wire::case(
                        k,
                        table,
                        remote,
                        Some(as_of),
                    ))),
                },
            })
            .collect();
        Ok(Response::new(pb::ListOverdueItemsResponse {
            items,
            next_page_token: encode_token(page.next_cursor),
        }))
    }

    async fn list_personal_data_access(
        &self,
        request: Request<pb::ListPersonalDataAccessRequest>,
    ) -> Result<Response<pb::ListPersonalDataAccessResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        c.v.id("petition_id", &req.petition_id, false);
        let (size, token) = c.page(req.page_size, &req.page_token);
        c.finish()?;
        let petition_id = opt_string(req.petition_id);
        let page = self
            .app
            .personal_data_access(petition_id.as_deref(), token.as_deref(), size)
            .await?;
        Ok(Response::new(pb::ListPersonalDataAccessResponse {
            accesses: page.items.iter().map(access).collect(),
            next_page_token: encode_token(page.next_cursor),
        }))
    }

    async fn get_deadline_table(
        &self,
        _request: Request<pb::GetDeadlineTableRequest>,
    ) -> Result<Response<pb::GetDeadlineTableResponse>, Status> {
        let rules = self
            .app
            .deadlines()
            .rules()
            .into_iter()
            .map(|r| pb::DeadlineRule {
                step: r.step.to_string(),
                description: r.description.to_string(),
                days: r.limit.days,
                working_days: r.limit.working_days,
            })
            .collect();
        Ok(Response::new(pb::GetDeadlineTableResponse {
            rules,
            time_zone: deadlines::LOCAL_TZ.name().to_string(),
        }))
    }
}

fn late(due: chrono::NaiveDate, now: chrono::DateTime<chrono::Utc>) -> i32 {
    i32::try_from(deadlines::days_late(due, now)).unwrap_or(i32::MAX)
}
