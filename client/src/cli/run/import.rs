//! `tiepdan import`: a register file into the node, stopped cleanly by Ctrl-C, and the report
//! of what it did.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use tiepdan_client::Client;
use tiepdan_client::register::{self, ImportOptions, ImportReport, state};

use crate::cli::args::{ImportArgs, InputFormat, Output};
use crate::cli::show;

pub async fn import(client: &Client, format: Output, args: ImportArgs) -> anyhow::Result<ExitCode> {
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
        Output::Json => show::one(format, &serde_json::to_value(report).unwrap_or_default()),
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
