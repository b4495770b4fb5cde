//! Carrying out a command: build the request, call the node, print the answer.

// Requests end in `..Default::default()`: the API only ever adds fields, and a field added
// later must keep its default here rather than break the build.
#![allow(clippy::needless_update)]

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;
use tiepdan_client::register::{self, ImportOptions, ImportReport, state};
use tiepdan_client::time::timestamp;
use tiepdan_client::{Client, Error, TlsFiles, collect_pages, json};
use tiepdan_proto::v1 as pb;

use super::args::{
    CaseCommand, Cli, Command, ConclusionCommand, ImportArgs, InputFormat, JournalCommand, Output,
    PetitionCommand, Range, ScheduleCommand, SyncCommand, UnitCommand, VisitCommand,
};
use super::show;

fn ts(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(timestamp(t))
}

fn ts_opt(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    t.map(timestamp)
}

/// Runs the command line's command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let tls = TlsFiles {
        ca: cli.ca.clone(),
        cert: cli.cert.clone(),
        key: cli.key.clone(),
    };
    let mut client = Client::connect_with(&cli.node, &tls).await?;
    if let Some(token) = &cli.token {
        client = client.with_token(token)?;
    }
    let format = cli.format;
    let request_id = || {
        cli.request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    };
    match cli.command {
        Command::Unit(c) => unit(&client, format, c, request_id()).await?,
        Command::Visit(c) => visit(&client, format, c, request_id()).await?,
        Command::Schedule(c) => schedule(&client, format, c, request_id()).await?,
        Command::Conclusion(c) => conclusion(&client, format, c, request_id()).await?,
        Command::Petition(c) => petition(&client, format, c, request_id()).await?,
        Command::Case(c) => case(&client, format, c, request_id()).await?,
        Command::Deadlines => {
            let table = client
                .get_deadline_table(pb::GetDeadlineTableRequest {})
                .await?;
            match format {
                Output::Json => show::one(format, &json::deadline_table(&table)),
                Output::Table => {
                    show::out(&format!("time zone: {}\n", table.time_zone));
                    show::list(
                        format,
                        &table.rules,
                        show::DEADLINE_RULE,
                        show::deadline_rule,
                        |_| json!(null),
                    );
                }
            }
        }
        Command::Journal(JournalCommand::List {
            origin,
            after,
            limit,
        }) => {
            let mut last_sequence = 0;
            let mut events = Vec::new();
            let mut after = after;
            let want = limit.get().unwrap_or(usize::MAX);
            while events.len() < want {
                let page_size = i32::try_from((want - events.len()).min(1000)).unwrap_or(1000);
                let page = client
                    .list_journal_events(pb::ListJournalEventsRequest {
                        origin_unit: origin.clone(),
                        after_sequence: after,
                        page_size,
                        ..Default::default()
                    })
                    .await?;
                last_sequence = page.last_sequence;
                let Some(last) = page.events.last().map(|e| e.sequence) else {
                    break;
                };
                after = last;
                events.extend(page.events);
            }
            match format {
                Output::Json => show::one(
                    format,
                    &json!({
                        "last_sequence": last_sequence,
                        "events": events.iter().map(json::journal_event).collect::<Vec<_>>(),
                    }),
                ),
                Output::Table => {
                    show::list(format, &events, show::JOURNAL, show::journal_event, |_| {
                        json!(null)
                    });
                    show::out(&format!("last sequence: {last_sequence}\n"));
                }
            }
        }
        Command::Import(args) => return import(&client, format, args).await,
        Command::Sync(SyncCommand::Status) => super::report::sync_status(&client, format).await?,
        Command::Sync(SyncCommand::Verify(args)) => {
            if !super::report::sync_verify(&client, format, &args).await? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Report(args) => super::report::report(&client, format, &args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn unit(client: &Client, format: Output, c: UnitCommand, rid: String) -> Result<(), Error> {
    match c {
        UnitCommand::Show => {
            let u = client.get_unit(pb::GetUnitRequest {}).await?;
            show::one(format, &json::unit(&u));
        }
        UnitCommand::List(limit) => {
            let units = collect_pages(limit.get(), |page_size, page_token| async move {
                let r = client
                    .list_units(pb::ListUnitsRequest {
                        page_size,
                        page_token,
                        ..Default::default()
                    })
                    .await?;
                Ok((r.units, r.next_page_token))
            })
            .await?;
            show::list(format, &units, show::UNIT, show::unit, json::unit);
        }
        UnitCommand::Register {
            code,
            name,
            level,
            parent,
            remote,
        } => {
            let u = client
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
                .await?;
            show::one(format, &json::unit(&u));
        }
    }
    Ok(())
}

async fn visit(client: &Client, format: Output, c: VisitCommand, rid: String) -> Result<(), Error> {
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
        VisitCommand::List { range, limit } => {
            let Range { from, to } = range;
            let visits = collect_pages(limit.get(), |page_size, page_token| async move {
                let r = client
                    .list_visits(pb::ListVisitsRequest {
                        start_time: ts_opt(from),
                        end_time: ts_opt(to),
                        page_size,
                        page_token,
                        ..Default::default()
                    })
                    .await?;
                Ok((r.visits, r.next_page_token))
            })
            .await?;
            show::list(format, &visits, show::VISIT, show::visit, json::visit);
        }
    }
    Ok(())
}

async fn schedule(
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
        ScheduleCommand::List { range, limit } => {
            let Range { from, to } = range;
            let entries = collect_pages(limit.get(), |page_size, page_token| async move {
                let r = client
                    .list_schedule_entries(pb::ListScheduleEntriesRequest {
                        start_time: ts_opt(from),
                        end_time: ts_opt(to),
                        page_size,
                        page_token,
                        ..Default::default()
                    })
                    .await?;
                Ok((r.entries, r.next_page_token))
            })
            .await?;
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

async fn conclusion(
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
            let status = status.map_or(0, |s| s as i32);
            let list = collect_pages(limit.get(), |page_size, page_token| async move {
                let r = client
                    .list_conclusions(pb::ListConclusionsRequest {
                        status,
                        page_size,
                        page_token,
                        ..Default::default()
                    })
                    .await?;
                Ok((r.conclusions, r.next_page_token))
            })
            .await?;
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

async fn petition(
    client: &Client,
    format: Output,
    c: PetitionCommand,
    rid: String,
) -> Result<(), Error> {
    let answer = match c {
        PetitionCommand::Receive {
            time,
            channel,
            summary,
            name,
            address,
            id_number,
            phone,
            email,
            signers,
            visit,
            classify,
        } => {
            client
                .receive_petition(pb::ReceivePetitionRequest {
                    request_id: rid,
                    received_time: ts(time),
                    channel: channel as i32,
                    summary,
                    petitioner: name.map(|full_name| pb::Petitioner {
                        full_name,
                        address,
                        id_number,
                        phone,
                        email,
                    }),
                    signers,
                    visit_id: visit,
                    classification: classify.classification(),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::Classify { id, classify, time } => {
            client
                .classify_petition(pb::ClassifyPetitionRequest {
                    request_id: rid,
                    petition_id: id,
                    classification: Some(classify.classification().unwrap_or_default()),
                    decision_time: ts_opt(time),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::Accept {
            id,
            time,
            case_id,
            complex,
        } => {
            let target = match case_id {
                Some(case_id) => pb::accept_petition_request::Target::CaseId(case_id),
                None => pb::accept_petition_request::Target::NewCase(pb::NewCase { complex }),
            };
            let (p, c) = client
                .accept_petition(pb::AcceptPetitionRequest {
                    request_id: rid,
                    petition_id: id,
                    accept_time: ts(time),
                    target: Some(target),
                    ..Default::default()
                })
                .await?;
            show::one(format, &json::accepted(&p, &c));
            return Ok(());
        }
        PetitionCommand::Guide {
            id,
            body,
            note,
            time,
        } => {
            client
                .guide_petition(pb::GuidePetitionRequest {
                    request_id: rid,
                    petition_id: id,
                    outside_body: body,
                    note,
                    decision_time: ts_opt(time),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::Transfer {
            id,
            unit,
            body,
            note,
            time,
        } => {
            let destination = match (unit, body) {
                (Some(code), _) => pb::transfer_petition_request::Destination::UnitCode(code),
                (None, body) => pb::transfer_petition_request::Destination::OutsideBody(
                    body.unwrap_or_default(),
                ),
            };
            client
                .transfer_petition(pb::TransferPetitionRequest {
                    request_id: rid,
                    petition_id: id,
                    destination: Some(destination),
                    note,
                    decision_time: ts_opt(time),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::Urge {
            id,
            body,
            note,
            time,
        } => {
            client
                .urge_petition(pb::UrgePetitionRequest {
                    request_id: rid,
                    petition_id: id,
                    outside_body: body,
                    note,
                    decision_time: ts_opt(time),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::Return { id, note, time } => {
            client
                .return_petition(pb::ReturnPetitionRequest {
                    request_id: rid,
                    petition_id: id,
                    note,
                    decision_time: ts_opt(time),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::Withdraw { id, note, time } => {
            client
                .withdraw_petition(pb::WithdrawPetitionRequest {
                    request_id: rid,
                    petition_id: id,
                    note,
                    decision_time: ts_opt(time),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::File {
            id,
            reason,
            note,
            time,
        } => {
            client
                .file_petition(pb::FilePetitionRequest {
                    request_id: rid,
                    petition_id: id,
                    reason: reason as i32,
                    note,
                    decision_time: ts_opt(time),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::Get { id } => {
            client
                .get_petition(pb::GetPetitionRequest {
                    petition_id: id,
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::List {
            status,
            petition_type,
            unit,
            range,
            overdue,
            limit,
        } => {
            let Range { from, to } = range;
            let unit = &unit;
            let list = collect_pages(limit.get(), |page_size, page_token| async move {
                let r = client
                    .list_petitions(pb::ListPetitionsRequest {
                        status: status.map_or(0, |s| s as i32),
                        r#type: petition_type.map_or(0, |t| t as i32),
                        unit_code: unit.clone(),
                        start_time: ts_opt(from),
                        end_time: ts_opt(to),
                        overdue_only: overdue,
                        page_size,
                        page_token,
                        ..Default::default()
                    })
                    .await?;
                Ok((r.petitions, r.next_page_token))
            })
            .await?;
            show::list(
                format,
                &list,
                show::PETITION,
                show::petition,
                json::petition,
            );
            return Ok(());
        }
        PetitionCommand::Overdue { as_of, limit } => {
            let items = collect_pages(limit.get(), |page_size, page_token| async move {
                let r = client
                    .list_overdue_items(pb::ListOverdueItemsRequest {
                        as_of_time: ts_opt(as_of),
                        page_size,
                        page_token,
                        ..Default::default()
                    })
                    .await?;
                Ok((r.items, r.next_page_token))
            })
            .await?;
            show::list(
                format,
                &items,
                show::OVERDUE,
                show::overdue_item,
                json::overdue_item,
            );
            return Ok(());
        }
    };
    show::one(format, &json::petition(&answer));
    Ok(())
}

async fn case(client: &Client, format: Output, c: CaseCommand, rid: String) -> Result<(), Error> {
    let answer = match c {
        CaseCommand::Get { id } => {
            client
                .get_case(pb::GetCaseRequest {
                    case_id: id,
                    ..Default::default()
                })
                .await?
        }
        CaseCommand::List {
            status,
            petition_type,
            owner,
            range,
            overdue,
            limit,
        } => {
            let Range { from, to } = range;
            let owner = &owner;
            let list = collect_pages(limit.get(), |page_size, page_token| async move {
                let r = client
                    .list_cases(pb::ListCasesRequest {
                        status: status.map_or(0, |s| s as i32),
                        r#type: petition_type.map_or(0, |t| t as i32),
                        owner_unit: owner.clone(),
                        start_time: ts_opt(from),
                        end_time: ts_opt(to),
                        overdue_only: overdue,
                        page_size,
                        page_token,
                        ..Default::default()
                    })
                    .await?;
                Ok((r.cases, r.next_page_token))
            })
            .await?;
            show::list(format, &list, show::CASE, show::case, json::case);
            return Ok(());
        }
        CaseCommand::Extend { id, note } => {
            client
                .extend_case(pb::ExtendCaseRequest {
                    request_id: rid,
                    case_id: id,
                    note,
                    ..Default::default()
                })
                .await?
        }
        CaseCommand::Resolve {
            id,
            outcome,
            decision_number,
            time,
            money,
            land,
        } => {
            client
                .resolve_case(pb::ResolveCaseRequest {
                    request_id: rid,
                    case_id: id,
                    outcome: outcome as i32,
                    decision_number,
                    decision_time: ts(time),
                    money_to_recover_vnd: money,
                    land_to_recover_m2: land,
                    ..Default::default()
                })
                .await?
        }
        CaseCommand::InForce { id, time } => {
            client
                .record_case_in_force(pb::RecordCaseInForceRequest {
                    request_id: rid,
                    case_id: id,
                    effective_time: ts(time),
                    ..Default::default()
                })
                .await?
        }
        CaseCommand::Enforce {
            id,
            money,
            land,
            completed,
            time,
        } => {
            client
                .record_enforcement(pb::RecordEnforcementRequest {
                    request_id: rid,
                    case_id: id,
                    money_recovered_vnd: money,
                    land_recovered_m2: land,
                    completed,
                    enforcement_time: ts(time),
                    ..Default::default()
                })
                .await?
        }
    };
    show::one(format, &json::case(&answer));
    Ok(())
}

async fn import(client: &Client, format: Output, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let input = args.input_format.map(|f| match f {
        InputFormat::Jsonl => register::Format::Jsonl,
        InputFormat::Csv => register::Format::Csv,
    });
    let mut reg = register::read_file(&args.file, input)?;
    if reg.id.is_none() {
        reg.id = args.register.clone();
    }
    let state_path = if args.no_state {
        None
    } else {
        Some(
            args.state
                .clone()
                .unwrap_or_else(|| state::default_path(&args.file)),
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the current record; the state file will be saved");
            flag.store(true, Ordering::Relaxed);
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
    let options = ImportOptions {
        state_path,
        checkpoint_every: args.checkpoint_every,
        limit: args.limit,
        progress: true,
        stop: Some(stop),
    };
    let result = register::import(client, &reg, &options).await;
    watcher.abort();
    let report = result.with_context(|| format!("import of {}", args.file.display()))?;
    print_report(format, &report);
    Ok(if report.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_report(format: Output, report: &ImportReport) {
    match format {
        Output::Json => {
            let doc = serde_json::to_value(report).unwrap_or_default();
            show::out(&format!("{}\n", show::pretty(&doc)));
        }
        Output::Table => {
            for note in &report.notes {
                eprintln!("note: {note}");
            }
            for f in &report.failures {
                eprintln!("{f}");
            }
            let mut text = format!(
                "register         {} (unit {})\n\
                 records          {}\n\
                 imported         {}\n\
                 already present  {}\n\
                 failed           {}\n",
                report.register,
                report.unit,
                report.records,
                report.imported,
                report.already_present,
                report.failed
            );
            if let Some(why) = &report.stopped {
                text.push_str(&format!(
                    "not reached      {} ({why})\n",
                    report.not_reached
                ));
            }
            show::out(&text);
        }
    }
}
