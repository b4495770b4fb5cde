//! Carrying out a command: build the request, call the node, print the answer. The commands
//! of the reception desk's records, of petitions and cases, and the import each have a module;
//! the deadline table and the journal are here.

// Requests end in `..Default::default()`: the API only ever adds fields, and a field added
// later must keep its default here rather than break the build.
#![allow(clippy::needless_update)]

mod import;
mod listing;
mod petitions;
mod reception;

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::json;
use tiepdan_client::time::timestamp;
use tiepdan_client::{Client, TlsFiles, json};
use tiepdan_proto::v1 as pb;

use super::args::{Cli, Command, JournalCommand, Output, SyncCommand};
use super::show;

fn ts(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(timestamp(t))
}

fn ts_opt(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    t.map(timestamp)
}

/// Writes the completion script or the manual pages, which need no node.
fn generated(command: &Command) -> anyhow::Result<bool> {
    use clap::CommandFactory;
    match command {
        Command::Completions { shell } => {
            // Into a buffer first: the generator panics on a closed pipe (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "tiepdan", &mut script);
            show::out(&String::from_utf8_lossy(&script));
            Ok(true)
        }
        Command::Man { out_dir } => {
            std::fs::create_dir_all(out_dir)?;
            clap_mangen::generate_to(Cli::command(), out_dir)?;
            println!("manual pages written to {}", out_dir.display());
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Runs the command line's command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if generated(&cli.command)? {
        return Ok(ExitCode::SUCCESS);
    }
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
        Command::Unit(c) => reception::unit(&client, format, c, request_id()).await?,
        Command::Visit(c) => reception::visit(&client, format, c, request_id()).await?,
        Command::Schedule(c) => reception::schedule(&client, format, c, request_id()).await?,
        Command::Conclusion(c) => reception::conclusion(&client, format, c, request_id()).await?,
        Command::Petition(c) => petitions::petition(&client, format, c, request_id()).await?,
        Command::Case(c) => petitions::case(&client, format, c, request_id()).await?,
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
        Command::Import(args) => return import::import(&client, format, args).await,
        Command::Sync(SyncCommand::Status) => super::report::sync_status(&client, format).await?,
        Command::Sync(SyncCommand::Verify(args)) => {
            if !super::report::sync_verify(&client, format, &args).await? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Report(args) if args.form.is_some() => {
            super::forms::form(&client, &args).await?;
        }
        Command::Report(args) => super::report::report(&client, format, &args).await?,
        // Written before connecting (`generated`).
        Command::Completions { .. } | Command::Man { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}
