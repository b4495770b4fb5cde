//! The `tiepdan` command line: arguments, running a command, printing its answer.

pub mod args;
pub mod run;
mod show;
