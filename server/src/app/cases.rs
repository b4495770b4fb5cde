//! Cases: the steps of a case accepted for resolution, up to its result.

use super::write::{Begun, RequestKey};
use super::{App, now_us};
use crate::domain::DomainError;
use crate::domain::lifecycle::{self, CaseCommand};
use crate::domain::model::Case;
use crate::domain::tally::{self, Delta};
use crate::storage::records::{self as repo};

impl App {
    /// Applies a lifecycle command to a case of this unit.
    pub async fn change_case(
        &self,
        key: &RequestKey,
        case_id: &str,
        command: CaseCommand,
    ) -> Result<Case, DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let case = repo::find_case(&tx, case_id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "case",
                id: case_id.to_string(),
            })?;
        if !self.holds(&case.owner_unit) {
            return Err(DomainError::precondition(
                "NOT_OWNER",
                format!(
                    "case {} is owned and resolved by unit {}",
                    case.id, case.owner_unit
                ),
            ));
        }
        let now = now_us();
        let mut after = lifecycle::apply_case(&case, command, now)?;
        after.due_date = self.deadlines().case_due(&after, self.remote()).1;
        repo::update_case(&tx, &after).await?;
        self.log_case(&tx, now, key.method, &after).await?;
        if case.is_open() && !after.is_open() {
            self.send_results(&tx, &after, now).await?;
        }
        let mut delta = Delta::default();
        delta.record(&self.tree(), &tally::case(&case), &tally::case(&after));
        self.finish(tx, key, &after, now, delta).await?;
        Ok(after)
    }
}
