//! The invariant checker run after every cross-tier scenario: no event lost, none applied
//! twice, and every tier's totals equal to a recount the test computes itself from the records
//! each unit holds.

use super::*;

/// A period covering every date the workloads record.
pub const PERIOD_ALL: &str = "2018-01-01..2019-12-31";
/// A period that cuts through the workloads (cases carried over into it, closed after it).
pub const PERIOD_PART: &str = "2019-03-01..2019-06-30";

/// The totals the suites recount from records, per DOMAIN.md's counting rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Count {
    pub visits: u64,
    pub persons: u64,
    pub crowd_groups: u64,
    pub crowd_persons: u64,
    pub head_sessions: u64,
    pub matters_first: u64,
    pub matters_repeat: u64,
    pub petitions_received: u64,
    pub cases_carried_over: u64,
    pub cases_accepted: u64,
    pub cases_to_resolve: u64,
    pub cases_resolved: u64,
    pub outcome_correct: u64,
    pub outcome_partly_correct: u64,
    pub outcome_incorrect: u64,
    pub outcome_withdrawn: u64,
    pub outcome_answered: u64,
    pub rate: (u64, u64),
}

impl Count {
    /// The same figures as a report gives them.
    pub fn of(t: &pb::Totals) -> Count {
        let rate = t.resolution_rate.unwrap_or_default();
        Count {
            visits: t.visits,
            persons: t.persons,
            crowd_groups: t.crowd_groups,
            crowd_persons: t.crowd_persons,
            head_sessions: t.head_sessions,
            matters_first: t.matters_first,
            matters_repeat: t.matters_repeat,
            petitions_received: t.petitions_received,
            cases_carried_over: t.cases_carried_over,
            cases_accepted: t.cases_accepted,
            cases_to_resolve: t.cases_to_resolve,
            cases_resolved: t.cases_resolved,
            outcome_correct: t.outcome_correct,
            outcome_partly_correct: t.outcome_partly_correct,
            outcome_incorrect: t.outcome_incorrect,
            outcome_withdrawn: t.outcome_withdrawn,
            outcome_answered: t.outcome_answered,
            rate: (rate.numerator, rate.denominator),
        }
    }
}

fn is_head(role: i32) -> bool {
    [
        pb::ReceiverRole::PartySecretary as i32,
        pb::ReceiverRole::CommitteeChairman as i32,
        pb::ReceiverRole::CouncilDelegate as i32,
    ]
    .contains(&role)
}

fn is_closed(c: &pb::Case) -> bool {
    c.decision_time.is_some()
        && [
            pb::CaseStatus::Resolved as i32,
            pb::CaseStatus::InForce as i32,
            pb::CaseStatus::Enforced as i32,
            pb::CaseStatus::Withdrawn as i32,
        ]
        .contains(&c.status)
}

/// Recounts, from the records of each unit, the totals of the units in `scope` for the local
/// days of `period` (restricted to one petition type when `only` is given: reception is then
/// not counted). A petition transferred in from a unit of `scope` was already counted there.
pub fn recount(
    records: &BTreeMap<String, Records>,
    scope: &[&str],
    period: (NaiveDate, NaiveDate),
    only: Option<i32>,
) -> Count {
    let (start, end) = period;
    let within = |t: &Option<Timestamp>| {
        let d = local_day(instant(t));
        d >= start && d <= end
    };
    let before = |t: &Option<Timestamp>| local_day(instant(t)) < start;
    let mut c = Count::default();
    for unit in scope {
        let Some(r) = records.get(*unit) else {
            continue;
        };
        if only.is_none() {
            for v in r.visits.values().filter(|v| within(&v.visit_time)) {
                c.visits += 1;
                c.persons += u64::from(v.persons);
                // A crowd group: five or more persons about one matter.
                if v.persons >= 5 {
                    c.crowd_groups += 1;
                    c.crowd_persons += u64::from(v.persons);
                }
                if is_head(v.receiver_role) {
                    c.head_sessions += 1;
                }
                if v.matter == pb::MatterKind::Repeat as i32 {
                    c.matters_repeat += 1;
                } else {
                    c.matters_first += 1;
                }
            }
        }
        for p in r.petitions.values() {
            if only.is_some_and(|t| p.r#type != t) {
                continue;
            }
            let moved_inside = !p.source_unit.is_empty() && scope.contains(&p.source_unit.as_str());
            if within(&p.received_time) && !moved_inside {
                c.petitions_received += 1;
            }
        }
        for k in r.cases.values() {
            if only.is_some_and(|t| k.r#type != t) {
                continue;
            }
            let closed = is_closed(k);
            if within(&k.accept_time) {
                c.cases_accepted += 1;
            }
            if before(&k.accept_time) && !(closed && before(&k.decision_time)) {
                c.cases_carried_over += 1;
            }
            if closed && within(&k.decision_time) {
                c.cases_resolved += 1;
                use pb::CaseOutcome as O;
                match O::try_from(k.outcome).unwrap_or(O::Unspecified) {
                    O::ComplaintCorrect | O::DenunciationFounded => c.outcome_correct += 1,
                    O::ComplaintPartlyCorrect | O::DenunciationPartlyFounded => {
                        c.outcome_partly_correct += 1;
                    }
                    O::ComplaintIncorrect | O::DenunciationUnfounded => c.outcome_incorrect += 1,
                    O::Withdrawn => c.outcome_withdrawn += 1,
                    O::RecommendationAnswered => c.outcome_answered += 1,
                    O::Unspecified => {}
                }
            }
        }
    }
    c.cases_to_resolve = c.cases_carried_over + c.cases_accepted;
    c.rate = (c.cases_resolved, c.cases_to_resolve);
    c
}

/// What each unit holds of its own: its journal (encoded events) and its records.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub journals: BTreeMap<String, Vec<Vec<u8>>>,
    pub records: BTreeMap<String, Records>,
}

impl World {
    /// Reads every running node's own journal and records at that node.
    pub async fn collect(tree: &Tree) -> World {
        let mut w = World::default();
        for code in tree.codes() {
            let ch = tree.channel(code);
            let events = journal(&ch, code).await;
            for (i, e) in events.iter().enumerate() {
                assert_eq!(
                    e.sequence,
                    i as u64 + 1,
                    "{code}'s own journal is not gapless"
                );
                assert_eq!(e.origin_unit, code, "{code}'s own journal");
            }
            w.journals.insert(
                code.to_string(),
                events.iter().map(Message::encode_to_vec).collect(),
            );
            w.records
                .insert(code.to_string(), records_of(&ch, code, code).await);
        }
        w
    }

    /// Total events over every origin.
    pub fn events(&self) -> usize {
        self.journals.values().map(Vec::len).sum()
    }
}

/// Waits until no node of the tree has mail waiting to cross a link.
pub async fn wait_mail_delivered(tree: &Tree) {
    let channels: Vec<(String, Channel)> = tree
        .codes()
        .into_iter()
        .map(|code| (code.to_string(), tree.channel(code)))
        .collect();
    wait_outboxes_empty(&channels).await;
}

/// What each tier should hold of each origin: what the origin holds now, except where a link
/// on the way up from the origin is cut — then what the origin held when it was cut.
pub struct Expect<'a> {
    pub now: &'a World,
    pub before: Option<&'a World>,
    /// Units whose link to their parent is cut.
    pub cut: Vec<&'static str>,
}

impl<'a> Expect<'a> {
    /// Everything everywhere.
    pub fn all(now: &'a World) -> Expect<'a> {
        Expect {
            now,
            before: None,
            cut: Vec::new(),
        }
    }

    /// What `holder` should hold of `origin`.
    fn view(&self, tree: &Tree, holder: &str, origin: &str) -> &'a World {
        let mut u = origin;
        while u != holder {
            if self.cut.contains(&u) {
                return self.before.expect("a snapshot from before the cut");
            }
            u = tree.member(u).spec.parent.expect("holder is an ancestor");
        }
        self.now
    }

    /// Every unit's records as `holder` should hold them.
    fn records_at(&self, tree: &Tree, holder: &str) -> BTreeMap<String, Records> {
        tree.codes()
            .into_iter()
            .filter_map(|code| {
                let view = if tree.subtree(holder).contains(&code) {
                    self.view(tree, holder, code)
                } else {
                    self.now
                };
                view.records
                    .get(code)
                    .map(|r| (code.to_string(), r.clone()))
            })
            .collect()
    }
}

/// Waits until every ancestor of every unit holds exactly the events it should.
pub async fn wait_synced(tree: &Tree, expect: &Expect<'_>) {
    wait_for("every tier to hold every event", || async move {
        let mut behind = Vec::new();
        for code in tree.codes() {
            for a in tree.ancestors(code) {
                let want = expect.view(tree, a, code).journals[code].len() as u64;
                let got = journal_last(&tree.channel(a), code).await;
                if got != want {
                    behind.push(format!("{a} holds {got}/{want} of {code}"));
                }
            }
        }
        if behind.is_empty() {
            Ok(())
        } else {
            Err(behind.join(", "))
        }
    })
    .await;
}

/// Waits until mail is delivered and every tier holds every event; returns what the units
/// hold. The invariants are not checked (see `verify`).
pub async fn settle(tree: &Tree) -> World {
    wait_mail_delivered(tree).await;
    let world = World::collect(tree).await;
    wait_synced(tree, &Expect::all(&world)).await;
    world
}

/// Runs every check after a scenario: mail delivered, every tier synced, then the
/// invariants. Returns what the units hold.
pub async fn verify(tree: &Tree) -> World {
    wait_mail_delivered(tree).await;
    let world = World::collect(tree).await;
    check(tree, &Expect::all(&world)).await;
    world
}

/// Checks the invariants once every tier holds what it should: (1) no event lost: each
/// ancestor holds every event of every origin byte for byte, sequences 1..=last and no more;
/// (2) none applied twice: each ancestor holds each unit's records exactly once, as the unit
/// holds them; (3) every tier's totals equal a recount from the units' records.
pub async fn check(tree: &Tree, expect: &Expect<'_>) {
    wait_synced(tree, expect).await;
    let mut failures = Vec::new();
    for code in tree.codes() {
        for a in tree.ancestors(code) {
            let view = expect.view(tree, a, code);
            let ch = tree.channel(a);
            let held = journal_bytes(&ch, code).await;
            let own = &view.journals[code];
            if held.len() != own.len() {
                failures.push(format!(
                    "{a} holds {} events of {code}, which has {}",
                    held.len(),
                    own.len()
                ));
            } else if let Some(i) = (0..own.len()).find(|&i| held[i] != own[i]) {
                failures.push(format!(
                    "{a}'s copy of {code}/{} differs from the origin's bytes",
                    i + 1
                ));
            }
            let records = records_of(&ch, code, a).await;
            let mine = &view.records[code];
            for d in [
                diff_maps(
                    &format!("visits of {code} at {a}"),
                    &mine.visits,
                    &records.visits,
                ),
                diff_maps(
                    &format!("petitions of {code} at {a}"),
                    &mine.petitions,
                    &records.petitions,
                ),
                diff_maps(
                    &format!("cases of {code} at {a}"),
                    &mine.cases,
                    &records.cases,
                ),
            ]
            .into_iter()
            .flatten()
            {
                failures.push(d);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "sync invariants broken:\n{}",
        failures.join("\n")
    );
    check_reports(tree, expect).await;
}

/// Checks that every node's reports, for every unit of its subtree, alone and with its
/// subtree, over two periods, overall and per petition type, equal the recount.
pub async fn check_reports(tree: &Tree, expect: &Expect<'_>) {
    let mut failures = Vec::new();
    let types = [
        pb::PetitionType::Complaint,
        pb::PetitionType::Denunciation,
        pb::PetitionType::Recommendation,
        pb::PetitionType::Mixed,
    ];
    for at in tree.codes() {
        let ch = tree.channel(at);
        let records = expect.records_at(tree, at);
        for unit in tree.subtree(at) {
            for text in [PERIOD_ALL, PERIOD_PART] {
                let days = period(text);
                for (scope, units) in [
                    (pb::ReportScope::Subtree, tree.subtree(unit)),
                    (pb::ReportScope::Unit, vec![unit]),
                ] {
                    let report = reports(&ch)
                        .get_report(pb::GetReportRequest {
                            unit_code: unit.to_string(),
                            period: text.to_string(),
                            scope: scope as i32,
                            calendar: 0,
                        })
                        .await
                        .unwrap_or_else(|e| panic!("report of {unit} at {at}: {e}"))
                        .into_inner()
                        .report
                        .unwrap();
                    let what = format!("{at}'s report of {unit} ({scope:?}, {text})");
                    let expected = recount(&records, &units, days, None);
                    let got = Count::of(&report.totals.unwrap_or_default());
                    if got != expected {
                        failures.push(format!(
                            "{what}:\n  recount {expected:?}\n  report  {got:?}"
                        ));
                    }
                    for t in types {
                        let expected = recount(&records, &units, days, Some(t as i32));
                        let got = report
                            .by_type
                            .iter()
                            .find(|r| r.r#type == t as i32)
                            .and_then(|r| r.totals)
                            .map(|t| Count::of(&t))
                            .unwrap_or_default();
                        if got != expected {
                            failures.push(format!(
                                "{what}, {t:?}:\n  recount {expected:?}\n  report  {got:?}"
                            ));
                        }
                    }
                    if scope == pb::ReportScope::Subtree {
                        let rows: BTreeSet<String> = report
                            .children
                            .iter()
                            .filter_map(|r| r.unit.as_ref().map(|u| u.code.clone()))
                            .collect();
                        let want: BTreeSet<String> =
                            tree.children(unit).iter().map(|c| c.to_string()).collect();
                        if rows != want {
                            failures.push(format!("{what}: child rows {rows:?}, want {want:?}"));
                        }
                        for row in &report.children {
                            let code = row.unit.as_ref().map(|u| u.code.clone()).unwrap();
                            if !want.contains(&code) {
                                continue;
                            }
                            let expected = recount(&records, &tree.subtree(&code), days, None);
                            let got = Count::of(&row.totals.unwrap_or_default());
                            if got != expected {
                                failures.push(format!(
                                    "{what}, row {code}:\n  recount {expected:?}\n  report  {got:?}"
                                ));
                            }
                            for t in types {
                                let expected =
                                    recount(&records, &tree.subtree(&code), days, Some(t as i32));
                                let got = row
                                    .by_type
                                    .iter()
                                    .find(|r| r.r#type == t as i32)
                                    .and_then(|r| r.totals)
                                    .map(|t| Count::of(&t))
                                    .unwrap_or_default();
                                if got != expected {
                                    failures.push(format!(
                                        "{what}, row {code}, {t:?}:\n  recount {expected:?}\n  \
                                         report  {got:?}"
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "totals differ from the recount ({} problems):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
