//! Pagination and filters of every listing: pages of 7 hold every item exactly once, in the
//! documented order (petitions, visits and cases newest first; the schedule soonest first;
//! conclusions oldest first; overdue items earliest due date first), the last page has no
//! token, and filters combine with AND.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use tiepdan_tests::Backend;

use pb::Eligibility::Eligible;
use pb::Jurisdiction::Within;
use pb::PetitionStatus as PS;
use pb::PetitionType as T;

/// Pages through a listing: every item and the size of each page.
macro_rules! pages {
    ($api:expr, $svc:ident . $method:ident, $req:expr, $field:ident) => {{
        let mut req = $req;
        let mut items = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let page = ok($api.$svc.$method(req.clone()).await);
            sizes.push(page.$field.len());
            items.extend(page.$field);
            if page.next_page_token.is_empty() {
                break;
            }
            assert!(sizes.len() < 200, "paging does not end");
            req.page_token = page.next_page_token;
        }
        (items, sizes)
    }};
}

#[track_caller]
fn assert_once<'a>(ids: impl IntoIterator<Item = &'a String>, expected: &BTreeSet<String>) {
    let ids: Vec<&String> = ids.into_iter().collect();
    let set: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    assert_eq!(set.len(), ids.len(), "an item appears twice: {ids:?}");
    assert_eq!(&set, expected);
}

struct Made {
    id: String,
    at: DateTime<Utc>,
    ty: i32,
    status: i32,
}

mod petitions;
mod reception;
mod rest;

use petitions::*;
use reception::*;
use rest::*;
on_every_backend!(
    petitions_newest_first,
    visits_newest_first,
    schedule_soonest_first,
    conclusions_oldest_first,
    cases_newest_first,
    overdue_items_paged,
    units_in_tree_order,
    journal_pages_in_sequence,
);
