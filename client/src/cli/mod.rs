//! The `tiepdan` command line: arguments, running a command, printing its answer.

pub mod args;
mod forms;
mod report;
pub mod run;
mod show;
