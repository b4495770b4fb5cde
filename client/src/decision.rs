//! The decisions on a petition — thụ lý, hướng dẫn, chuyển đơn, đôn đốc, trả lại, rút, lưu
//! đơn — each one call of the API, sent the same way by the command line and the import.

// Requests end in `..Default::default()`: the API only ever adds fields, and a field added
// later must keep its default here rather than break the build.
#![allow(clippy::needless_update)]

use chrono::{DateTime, Utc};
use tiepdan_proto::v1 as pb;

use crate::client::Client;
use crate::error::Error;
use crate::time::timestamp;

/// A decision on a petition, in the API's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum PetitionDecision {
    /// Thụ lý: into a new case, or into an open one.
    Accept(pb::accept_petition_request::Target),
    /// Hướng dẫn: the petitioner is guided to the competent body.
    Guide { outside_body: String, note: String },
    /// Chuyển đơn: to a unit of the tree or an outside body.
    Transfer {
        destination: pb::transfer_petition_request::Destination,
        note: String,
    },
    /// Đôn đốc: the lower body that is late is urged.
    Urge { outside_body: String, note: String },
    /// Returned to the petitioner.
    Return { note: String },
    /// Rút: the petitioner withdrew.
    Withdraw { note: String },
    /// Lưu đơn: filed without action.
    File {
        reason: pb::FileReason,
        note: String,
    },
}

impl PetitionDecision {
    /// The decision as one word: `accept`, `guide`, `transfer`, `urge`, `return`,
    /// `withdraw` or `file`.
    pub fn name(&self) -> &'static str {
        match self {
            PetitionDecision::Accept(_) => "accept",
            PetitionDecision::Guide { .. } => "guide",
            PetitionDecision::Transfer { .. } => "transfer",
            PetitionDecision::Urge { .. } => "urge",
            PetitionDecision::Return { .. } => "return",
            PetitionDecision::Withdraw { .. } => "withdraw",
            PetitionDecision::File { .. } => "file",
        }
    }
}

impl Client {
    /// Sends `decision` on the petition `petition_id`, decided at `time` (the node's clock
    /// when `None`; an acceptance needs one). Answers the petition after it and, for an
    /// acceptance, the case.
    pub async fn decide(
        &self,
        request_id: &str,
        petition_id: &str,
        time: Option<DateTime<Utc>>,
        decision: &PetitionDecision,
    ) -> Result<(pb::Petition, Option<pb::Case>), Error> {
        let request_id = request_id.to_string();
        let petition_id = petition_id.to_string();
        let decision_time = time.map(timestamp);
        // The decisions other than acceptance share these three fields and differ in the rest.
        macro_rules! decided {
            ($call:ident, $request:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {
                self.$call(pb::$request {
                    request_id,
                    petition_id,
                    decision_time,
                    $($field $(: $value)?,)*
                    ..Default::default()
                })
                .await?
            };
        }
        let petition = match decision.clone() {
            PetitionDecision::Accept(target) => {
                let (petition, case) = self
                    .accept_petition(pb::AcceptPetitionRequest {
                        request_id,
                        petition_id,
                        accept_time: decision_time,
                        target: Some(target),
                        ..Default::default()
                    })
                    .await?;
                return Ok((petition, Some(case)));
            }
            PetitionDecision::Guide { outside_body, note } => {
                decided!(guide_petition, GuidePetitionRequest { outside_body, note })
            }
            PetitionDecision::Transfer { destination, note } => decided!(
                transfer_petition,
                TransferPetitionRequest {
                    destination: Some(destination),
                    note,
                }
            ),
            PetitionDecision::Urge { outside_body, note } => {
                decided!(urge_petition, UrgePetitionRequest { outside_body, note })
            }
            PetitionDecision::Return { note } => {
                decided!(return_petition, ReturnPetitionRequest { note })
            }
            PetitionDecision::Withdraw { note } => {
                decided!(withdraw_petition, WithdrawPetitionRequest { note })
            }
            PetitionDecision::File { reason, note } => decided!(
                file_petition,
                FilePetitionRequest {
                    reason: reason as i32,
                    note,
                }
            ),
        };
        Ok((petition, None))
    }
}
