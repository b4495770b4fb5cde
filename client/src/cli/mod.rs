//! The `tiepdan` command line: arguments, running a command, printing its answer.

pub mod args;
mod forms;
mod indicators;
mod report;
pub mod run;
mod show;
