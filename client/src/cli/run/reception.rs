//! The reception desk's own records: the unit tree, visits, the heads' reception days and
//! their conclusions.

// Requests end in `..Default::default()`: the API only ever adds fields, and a field added
// later must keep its default here rather than break the build.
#![allow(clippy::needless_update)]

use tiepdan_client::{Client, Error, json};
use tiepdan_proto::v1 as pb;

use super::listing::collect;
use super::{ts, ts_opt};
use crate::cli::args::{
    ConclusionCommand, DatedListing, Output, Range, ScheduleCommand, UnitCommand, VisitCommand,
};
use crate::cli::show;

pub async fn unit(
    client: &Client,
    format: Output,
    c: UnitCommand,
    rid: String,
) -> Result<(), Error> {
    let u = match c {
        UnitCommand::Show => client.get_unit(pb::GetUnitRequest {}).await?,
        UnitCommand::List(limit) => {
            let request = pb::ListUnitsRequest::default();
            let units = collect(limit, request, |r| client.list_units(r)).await?;
            show::list(format, &units, show::UNIT, show::unit, json::unit);
            return Ok(());
        }
        UnitCommand::Register {
            code,
            name,
            level,
            parent,
            remote,
        } => {
            client
                .register_unit(pb::RegisterUnitRequest {
                    request_id: rid,
                    unit: Some(pb::Unit {
                        code,
                        name,
                        level: level as i32,
                        parent_code: parent,
                        remote,
                    }),
                    ..Default::default()
                })
                .await?
        }
        UnitCommand::History { code } => {
            let h = client
                .get_unit_history(pb::GetUnitHistoryRequest { unit_code: code })
                .await?;
            let rows: Vec<&pb::UnitVersion> = h.versions.iter().chain(&h.predecessors).collect();
            show::list(
                format,
                &rows,
                show::UNIT_VERSION,
                |v| show::unit_version(v),
                |v| json::unit_version(v),
            );
            return Ok(());
        }
        UnitCommand::Reorganise { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| Error::File {
                path: file.clone(),
                detail: e.to_string(),
            })?;
            let reorganisation =
                tiepdan_client::resolution::parse(&text).map_err(|detail| Error::File {
                    path: file.clone(),
                    detail,
                })?;
            let r = client
                .reorganise(pb::ReorganiseRequest {
                    request_id: rid,
                    reorganisation: Some(reorganisation),
                })
                .await?;
            show::one(format, &json::reorganisation(&r));
            return Ok(());
        }
        UnitCommand::Reorganisations => {
            let list = client
                .list_reorganisations(pb::ListReorganisationsRequest {})
                .await?;
            for r in &list.reorganisations {
                show::one(format, &json::reorganisation(r));
            }
            return Ok(());
        }
    };
    show::one(format, &json::unit(&u));
    Ok(())
}

pub async fn visit(
    client: &Client,
    format: Output,
    c: VisitCommand,
    rid: String,
) -> Result<(), Error> {
    match c {
        VisitCommand::Record {
            time,
            kind,
            receiver_role,
            receiver_name,
            persons,
            matter,
            action,
            summary,
            schedule_entry,
        } => {
            let v = client
                .record_visit(pb::RecordVisitRequest {
                    request_id: rid,
                    visit_time: ts(time),
                    kind: kind as i32,
                    receiver_role: receiver_role as i32,
                    receiver_name,
                    persons,
                    matter: matter as i32,
                    action: action as i32,
                    summary,
                    schedule_entry_id: schedule_entry,
                    ..Default::default()
                })
                .await?;
            show::one(format, &json::visit(&v));
        }
        VisitCommand::List(DatedListing { range, limit }) => {
            let Range { from, to } = range;
            let request = pb::ListVisitsRequest {
                start_time: ts_opt(from),
                end_time: ts_opt(to),
                ..Default::default()
            };
            let visits = collect(limit, request, |r| client.list_visits(r)).await?;
            show::list(format, &visits, show::VISIT, show::visit, json::visit);
        }
    }
    Ok(())
}

pub async fn schedule(
    client: &Client,
    format: Output,
    c: ScheduleCommand,
    rid: String,
) -> Result<(), Error> {
    match c {
        ScheduleCommand::Publish {
            receiver_role,
            receiver_name,
            start,
            end,
            location,
        } => {
            let e = client
                .publish_schedule_entry(pb::PublishScheduleEntryRequest {
                    request_id: rid,
                    receiver_role: receiver_role as i32,
                    receiver_name,
                    start_time: ts(start),
                    end_time: ts(end),
                    location,
                    ..Default::default()
                })
                .await?;
            show::one(format, &json::schedule_entry(&e));
        }
        ScheduleCommand::List(DatedListing { range, limit }) => {
            let Range { from, to } = range;
            let request = pb::ListScheduleEntriesRequest {
                start_time: ts_opt(from),
                end_time: ts_opt(to),
                ..Default::default()
            };
            let entries = collect(limit, request, |r| client.list_schedule_entries(r)).await?;
            show::list(
                format,
                &entries,
                show::SCHEDULE,
                show::schedule_entry,
                json::schedule_entry,
            );
        }
    }
    Ok(())
}

pub async fn conclusion(
    client: &Client,
    format: Output,
    c: ConclusionCommand,
    rid: String,
) -> Result<(), Error> {
    let done = match c {
        ConclusionCommand::Record {
            visit,
            text,
            assignee,
            time,
        } => {
            client
                .record_conclusion(pb::RecordConclusionRequest {
                    request_id: rid,
                    visit_id: visit,
                    text,
                    assignee,
                    conclusion_time: ts(time),
                    ..Default::default()
                })
                .await?
        }
        ConclusionCommand::Update {
            id,
            status,
            note,
            time,
        } => {
            client
                .update_conclusion(pb::UpdateConclusionRequest {
                    request_id: rid,
                    conclusion_id: id,
                    status: status as i32,
                    progress_note: note,
                    update_time: ts(time),
                    ..Default::default()
                })
                .await?
        }
        ConclusionCommand::List { status, limit } => {
            let request = pb::ListConclusionsRequest {
                status: status.map_or(0, |s| s as i32),
                ..Default::default()
            };
            let list = collect(limit, request, |r| client.list_conclusions(r)).await?;
            show::list(
                format,
                &list,
                show::CONCLUSION,
                show::conclusion,
                json::conclusion,
            );
            return Ok(());
        }
    };
    show::one(format, &json::conclusion(&done));
    Ok(())
}
