//! Client of a tiepdan node: a typed wrapper of the gRPC API ([`Client`]) with the decisions on
//! a petition as one call ([`PetitionDecision`]), its error with the node's field violations
//! decoded ([`Error`]), the conversions a person or a script reads
//! ([`json`], [`table`], [`words`], [`time`]), and the import of an office's register files
//! ([`register`]). The `tiepdan` command-line tool is built on it.

pub mod client;
pub mod decision;
pub mod error;
pub mod json;
pub mod register;
pub mod resolution;
pub mod table;
pub mod time;
pub mod words;

pub use client::{Bearer, Client, TlsFiles, Transport, collect_pages};
pub use decision::PetitionDecision;
pub use error::{Error, RpcError, Violation};
