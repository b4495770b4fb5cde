//! Repositories: conversion between stored rows and domain records, and the queries the
//! application runs, one file per table group. Reads take any handle (`Read`: the pool or
//! the write transaction); writes take the write transaction (`Write`).

mod bulk;
mod copies;
mod petitions;
mod reception;
mod requests;
mod rows;
mod tally;
mod units;

pub use bulk::*;
pub use copies::*;
pub use petitions::*;
pub use reception::*;
pub use requests::*;
pub use rows::*;
pub use tally::*;
pub use units::*;
