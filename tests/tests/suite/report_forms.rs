//! The official forms of Thông tư 06/2025/TT-TTCP, filled by a province over its communes
//! (today's two-level map): every column of every form computed here again, column by
//! column, from the records the units hold — one row per commune, the province's own row,
//! the total — and compared with the form's cells; columns the register does not record
//! are empty, never 0; the equalities between forms hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use tonic::transport::Channel;

use crate::support::*;

const START: (i32, u32, u32) = (2026, 7, 1);
const END: (i32, u32, u32) = (2026, 9, 30);

fn day_of(t: &Option<prost_types::Timestamp>) -> Option<NaiveDate> {
    t.as_ref().map(|t| local_day(instant(&Some(*t))))
}

/// Records a varied register at `ch` (`salt` varies it per unit): visits of every kind and
/// receiver, crowd groups, head's published days, petitions of every type, field, round
/// and routing, cases resolved with every outcome and amounts, taken effect and enforced;
/// some before the quarter, some in it, some after it.
async fn seed(ch: &Channel, tag: &str, salt: u32) {
    use pb::{CaseOutcome as O, Field as F, PetitionType as T, ReceiverRole as R};
    let first = date(2026, 6, 10);
    for i in 0..18 + salt {
        let at = on(
            first + chrono::Duration::days(i64::from((i * 7 + salt) % 120)),
            9,
            0,
        );
        let (kind, role) = match (i + salt) % 5 {
            0 => (pb::ReceptionKind::Regular, R::Staff),
            1 => (pb::ReceptionKind::Periodic, R::CommitteeChairman),
            2 => (pb::ReceptionKind::Unscheduled, R::PartySecretary),
            3 => (pb::ReceptionKind::Regular, R::CommitteeChairman),
            _ => (pb::ReceptionKind::Regular, R::Staff),
        };
        reception(ch)
            .record_visit(pb::RecordVisitRequest {
                request_id: format!("{tag}-v{i}"),
                visit_time: ts(at),
                kind: kind as i32,
                receiver_role: role as i32,
                receiver_name: String::new(),
                persons: [1, 3, 6, 2, 12, 5][(i % 6) as usize],
                matter: if i % 3 == 1 {
                    pb::MatterKind::Repeat
                } else {
                    pb::MatterKind::First
                } as i32,
                action: pb::ReceptionAction::Accepted as i32,
                summary: format!("{tag} lượt {i}"),
                schedule_entry_id: String::new(),
            })
            .await
            .unwrap();
    }
    for i in 0..4 + salt % 3 {
        let day = first + chrono::Duration::days(i64::from(i * 17 % 100));
        reception(ch)
            .publish_schedule_entry(pb::PublishScheduleEntryRequest {
                request_id: format!("{tag}-s{i}"),
                receiver_role: if i % 3 == 2 {
                    R::PartySecretary
                } else {
                    R::CommitteeChairman
                } as i32,
                receiver_name: "Chủ tịch".into(),
                start_time: ts(on(day, 8, 0)),
                end_time: ts(on(day, 11, 0)),
                location: "Trụ sở".into(),
            })
            .await
            .unwrap();
    }
    let types = [
        T::Complaint,
        T::Complaint,
        T::Denunciation,
        T::Recommendation,
        T::Mixed,
    ];
    let fields = [
        F::LandHousing,
        F::Administration,
        F::Corruption,
        F::Justice,
        F::Party,
        F::Other,
    ];
    for i in 0..30 + salt {
        let received = on(
            first + chrono::Duration::days(i64::from((i * 5 + salt) % 110)),
            8,
            0,
        );
        let later = |days: i64| received + chrono::Duration::days(days);
        let t = types[((i + salt) % 5) as usize];
        let eligible = i % 7 != 3;
        let within = i % 4 != 1;
        let mut c = class_of(t, eligible, within);
        c.field = fields[((i * 5 + salt) % 6) as usize] as i32;
        if t == T::Complaint {
            c.complaint_round = 1 + i % 2;
        }
        let classified = i % 9 != 8;
        let p = receive(ch, format!("{tag}-p{i}"), received, classified.then_some(c)).await;
        if !classified {
            continue;
        }
        let id = |what: &str| format!("{tag}-p{i}-{what}");
        let petitions = petitions(ch);
        match (eligible, within, t) {
            (false, _, _) => {
                let mut client = petitions;
                client
                    .file_petition(pb::FilePetitionRequest {
                        request_id: id("f"),
                        petition_id: p.id.clone(),
                        reason: pb::FileReason::Ineligible as i32,
                        note: String::new(),
                        decision_time: ts(later(4)),
                    })
                    .await
                    .unwrap();
            }
            (true, false, _) if i % 2 == 0 => {
                let mut client = petitions;
                client
                    .guide_petition(pb::GuidePetitionRequest {
                        request_id: id("g"),
                        petition_id: p.id.clone(),
                        outside_body: "Tòa án nhân dân".into(),
                        note: String::new(),
                        decision_time: ts(later(5)),
                    })
                    .await
                    .unwrap();
            }
            (true, false, _) => {
                let mut client = petitions;
                client
                    .transfer_petition(pb::TransferPetitionRequest {
                        request_id: id("t"),
                        petition_id: p.id.clone(),
                        destination: Some(pb::transfer_petition_request::Destination::OutsideBody(
                            "Sở Tài nguyên và Môi trường".into(),
                        )),
                        note: String::new(),
                        decision_time: ts(later(6)),
                    })
                    .await
                    .unwrap();
            }
            (true, true, T::Mixed) => {}
            (true, true, _) if i % 11 == 10 => {} // classified, not processed yet
            (true, true, _) => {
                let case = accept_new(ch, id("a"), &p.id, later(3)).await;
                let outcome = match (t, i % 4) {
                    (T::Complaint, 0) => Some(O::ComplaintCorrect),
                    (T::Complaint, 1) => Some(O::ComplaintIncorrect),
                    (T::Complaint, 2) => Some(O::ComplaintPartlyCorrect),
                    (T::Denunciation, 0) => Some(O::DenunciationFounded),
                    (T::Denunciation, 1) => Some(O::DenunciationUnfounded),
                    (T::Denunciation, 2) => Some(O::DenunciationPartlyFounded),
                    (T::Recommendation, 0 | 1) => Some(O::RecommendationAnswered),
                    (_, 3) if i % 8 == 3 => Some(O::Withdrawn),
                    _ => None,
                };
                let Some(outcome) = outcome else { continue };
                let decided = later(20 + i64::from(i % 40));
                let money = if outcome == O::Withdrawn {
                    0
                } else {
                    i64::from(i) * 2_500_000
                };
                let land = if outcome == O::Withdrawn {
                    0.0
                } else {
                    f64::from(i) * 12.5
                };
                let resolved = cases(ch)
                    .resolve_case(pb::ResolveCaseRequest {
                        request_id: id("d"),
                        case_id: case.id.clone(),
                        outcome: outcome as i32,
                        decision_number: format!("{i}/QĐ"),
                        decision_time: ts(decided),
                        money_to_recover_vnd: money,
                        land_to_recover_m2: land,
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .case
                    .unwrap();
                if outcome == O::Withdrawn || outcome == O::RecommendationAnswered || i % 3 == 0 {
                    continue;
                }
                cases(ch)
                    .record_case_in_force(pb::RecordCaseInForceRequest {
                        request_id: id("e"),
                        case_id: resolved.id.clone(),
                        effective_time: ts(decided + chrono::Duration::days(10)),
                    })
                    .await
                    .unwrap();
                if i % 2 == 0 {
                    cases(ch)
                        .record_enforcement(pb::RecordEnforcementRequest {
                            request_id: id("x"),
                            case_id: resolved.id.clone(),
                            money_recovered_vnd: money / 2,
                            land_recovered_m2: land / 2.0,
                            completed: true,
                            enforcement_time: ts(decided + chrono::Duration::days(25)),
                        })
                        .await
                        .unwrap();
                }
            }
        }
    }
}

/// The records of one row, as the units hold them.
#[derive(Default)]
struct Held {
    visits: Vec<pb::Visit>,
    petitions: Vec<pb::Petition>,
    cases: Vec<pb::Case>,
    schedules: Vec<pb::ScheduleEntry>,
}

async fn schedules_at(ch: &Channel) -> Vec<pb::ScheduleEntry> {
    reception(ch)
        .list_schedule_entries(pb::ListScheduleEntriesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries
}

/// Every column of `form` for one row, counted here from `held` in the quarter.
fn expected(form: &str, held: &Held) -> Vec<Option<f64>> {
    use pb::PetitionType as T;
    let start = date(START.0, START.1, START.2);
    let end = date(END.0, END.1, END.2);
    let within = |d: Option<NaiveDate>| d.is_some_and(|d| d >= start && d <= end);
    let is_head = |r: i32| {
        [
            pb::ReceiverRole::PartySecretary as i32,
            pb::ReceiverRole::CommitteeChairman as i32,
            pb::ReceiverRole::CouncilDelegate as i32,
        ]
        .contains(&r)
    };
    let n = |x: usize| Some(x as f64);
    let sum = |xs: &[Option<f64>]| xs.iter().try_fold(0.0, |a, x| x.map(|x| a + x));
    match form {
        "01/TCD" => {
            let visits: Vec<&pb::Visit> = held
                .visits
                .iter()
                .filter(|v| within(day_of(&v.visit_time)))
                .collect();
            let regular = |v: &&&pb::Visit| {
                v.kind == pb::ReceptionKind::Regular as i32 && !is_head(v.receiver_role)
            };
            let head = |v: &&&pb::Visit| is_head(v.receiver_role);
            let first = |v: &&&pb::Visit| v.matter == pb::MatterKind::First as i32;
            let crowd = |v: &&&pb::Visit| v.persons >= 5;
            let count = |f: &dyn Fn(&&&pb::Visit) -> bool| n(visits.iter().filter(f).count());
            let persons = |f: &dyn Fn(&&&pb::Visit) -> bool| {
                Some(visits.iter().filter(f).map(|v| f64::from(v.persons)).sum())
            };
            let days: BTreeSet<NaiveDate> = held
                .schedules
                .iter()
                .filter(|e| is_head(e.receiver_role) && within(day_of(&e.start_time)))
                .filter_map(|e| day_of(&e.start_time))
                .collect();
            let c5 = count(&regular);
            let c6 = persons(&regular);
            let c7 = count(&|v| regular(v) && first(v));
            let c8 = count(&|v| regular(v) && crowd(v));
            let c9 = persons(&|v| regular(v) && crowd(v));
            let c11 = count(&head);
            let c12 = persons(&head);
            let c13 = count(&|v| head(v) && first(v));
            let c14 = count(&|v| head(v) && crowd(v));
            let c15 = persons(&|v| head(v) && crowd(v));
            let mut out = vec![
                sum(&[c5, c11]),
                sum(&[c6, c12]),
                sum(&[c7, c13]),
                sum(&[c8, c14]),
                c5,
                c6,
                c7,
                c8,
                c9,
                n(days.len()),
                c11,
                c12,
                c13,
                c14,
                c15,
            ];
            out.extend([None; 6]);
            out
        }
        "02/XLD" => {
            let processed = |p: &pb::Petition| within(day_of(&p.processed_time));
            let pending = |p: &pb::Petition| {
                day_of(&p.received_time).is_some_and(|d| d <= end)
                    && day_of(&p.processed_time).is_none_or(|d| d >= start)
            };
            let ours = |p: &pb::Petition, t: T| {
                processed(p)
                    && p.eligibility == pb::Eligibility::Eligible as i32
                    && p.jurisdiction == pb::Jurisdiction::Within as i32
                    && p.r#type == t as i32
            };
            let count = |f: &dyn Fn(&pb::Petition) -> bool| {
                n(held.petitions.iter().filter(|p| f(p)).count())
            };
            let field =
                |p: &pb::Petition, fs: &[pb::Field]| fs.iter().any(|f| p.field == *f as i32);
            use pb::Field as F;
            let others = [
                F::Administration,
                F::Justice,
                F::Party,
                F::Corruption,
                F::Other,
            ];
            let c7 = count(&|p| ours(p, T::Complaint) && p.complaint_round == 1);
            let c8 = count(&|p| ours(p, T::Complaint) && p.complaint_round == 2);
            let c9 = count(&|p| ours(p, T::Complaint) && field(p, &[F::LandHousing]));
            let c11 = count(&|p| ours(p, T::Complaint) && field(p, &others));
            let c15 = count(&|p| {
                ours(p, T::Denunciation) && field(p, &[F::Administration, F::LandHousing])
            });
            let c16 = count(&|p| ours(p, T::Denunciation) && field(p, &[F::Corruption]));
            let c17 = count(&|p| ours(p, T::Denunciation) && field(p, &[F::Justice]));
            let c18 = count(&|p| ours(p, T::Denunciation) && field(p, &[F::Party, F::Other]));
            let c21 = count(&|p| ours(p, T::Recommendation) && field(p, &[F::LandHousing]));
            let c22 = count(&|p| ours(p, T::Recommendation) && field(p, &others));
            let outside = |p: &pb::Petition, s: pb::PetitionStatus| {
                processed(p)
                    && p.eligibility == pb::Eligibility::Eligible as i32
                    && p.jurisdiction == pb::Jurisdiction::Outside as i32
                    && p.status == s as i32
            };
            let c24 = count(&|p| outside(p, pb::PetitionStatus::Guided));
            let c25 = count(&|p| outside(p, pb::PetitionStatus::Transferred));
            let c6 = sum(&[c7, c8]);
            let c12 = sum(&[c15, c16, c17, c18]);
            let c19 = sum(&[c21, c22]);
            let c4 = sum(&[c6, c12, c19]);
            let c23 = sum(&[c24, c25]);
            let c5 = n(held
                .cases
                .iter()
                .filter(|k| within(day_of(&k.accept_time)) && k.r#type != T::Mixed as i32)
                .count());
            vec![
                count(&pending),
                count(&processed),
                sum(&[c4, c23]),
                c4,
                c5,
                c6,
                c7,
                c8,
                c9,
                None,
                c11,
                c12,
                None,
                None,
                c15,
                c16,
                c17,
                c18,
                c19,
                None,
                c21,
                c22,
                c23,
                c24,
                c25,
            ]
        }
        "03/GQKN" | "04/GQTC" => {
            let t = if form == "03/GQKN" {
                T::Complaint
            } else {
                T::Denunciation
            };
            let of_type: Vec<&pb::Case> =
                held.cases.iter().filter(|k| k.r#type == t as i32).collect();
            let decided = |k: &&&pb::Case| within(day_of(&k.decision_time));
            let pending = |k: &&&pb::Case| {
                day_of(&k.accept_time).is_some_and(|d| d <= end)
                    && day_of(&k.decision_time).is_none_or(|d| d >= start)
            };
            let count = |f: &dyn Fn(&&&pb::Case) -> bool| n(of_type.iter().filter(f).count());
            let amount = |f: fn(&pb::Case) -> f64| {
                Some(of_type.iter().filter(decided).map(|k| f(k)).sum::<f64>())
            };
            let withdrawn = |k: &&&pb::Case| k.status == pb::CaseStatus::Withdrawn as i32;
            let outcome =
                |o: pb::CaseOutcome| move |k: &&&pb::Case| decided(k) && k.outcome == o as i32;
            let first_petitions = n(held
                .petitions
                .iter()
                .filter(|p| {
                    within(day_of(&p.processed_time))
                        && p.r#type == t as i32
                        && p.eligibility == pb::Eligibility::Eligible as i32
                        && p.jurisdiction == pb::Jurisdiction::Within as i32
                })
                .count());
            let money = amount(|k| k.money_to_recover_vnd as f64 / 1_000_000.0);
            let land = amount(|k| k.land_to_recover_m2);
            if t == T::Complaint {
                let round1 = |o: pb::CaseOutcome| {
                    let f = outcome(o);
                    count(&move |k| f(k) && k.complaint_round == 1)
                };
                let c8 = round1(pb::CaseOutcome::ComplaintCorrect);
                let c9 = round1(pb::CaseOutcome::ComplaintIncorrect);
                let c10 = round1(pb::CaseOutcome::ComplaintPartlyCorrect);
                let mut out = vec![
                    first_petitions,
                    count(&pending),
                    None,
                    count(&|k| pending(k) && !withdrawn(k)),
                    None,
                    count(&|k| decided(k) && withdrawn(k)),
                    sum(&[c8, c9, c10]),
                    c8,
                    c9,
                    c10,
                    None,
                    None,
                    money,
                    land,
                ];
                out.extend([None; 9]);
                out
            } else {
                let concluded = [
                    pb::CaseOutcome::DenunciationFounded as i32,
                    pb::CaseOutcome::DenunciationUnfounded as i32,
                    pb::CaseOutcome::DenunciationPartlyFounded as i32,
                ];
                let mut out = vec![
                    first_petitions,
                    count(&pending),
                    None,
                    count(&|k| pending(k) && !withdrawn(k)),
                    None,
                    count(&|k| decided(k) && withdrawn(k)),
                    count(&|k| decided(k) && concluded.contains(&k.outcome)),
                ];
                out.extend([None; 6]);
                out.extend([money, land]);
                out.extend([None; 10]);
                out
            }
        }
        "05/KQTH" => {
            let block = |t: T| {
                let of_type: Vec<&pb::Case> =
                    held.cases.iter().filter(|k| k.r#type == t as i32).collect();
                let in_force = |k: &&pb::Case| {
                    [
                        pb::CaseStatus::InForce as i32,
                        pb::CaseStatus::Enforced as i32,
                    ]
                    .contains(&k.status)
                };
                let to_enforce = of_type
                    .iter()
                    .filter(|k| {
                        in_force(k)
                            && day_of(&k.decision_time).is_some_and(|d| d <= end)
                            && day_of(&k.enforced_time).is_none_or(|d| d >= start)
                    })
                    .count();
                let enforced = |k: &&&pb::Case| within(day_of(&k.enforced_time));
                let decided = |k: &&&pb::Case| within(day_of(&k.decision_time));
                let sum_of = |f: &dyn Fn(&&&pb::Case) -> bool, g: fn(&pb::Case) -> f64| {
                    Some(of_type.iter().filter(f).map(|k| g(k)).sum::<f64>())
                };
                vec![
                    n(to_enforce),
                    n(of_type.iter().filter(enforced).count()),
                    sum_of(&decided, |k| k.money_to_recover_vnd as f64 / 1e6),
                    sum_of(&decided, |k| k.land_to_recover_m2),
                    sum_of(&enforced, |k| k.money_recovered_vnd as f64 / 1e6),
                    sum_of(&enforced, |k| k.land_recovered_m2),
                ]
            };
            let mut out = block(T::Complaint);
            out.extend([None; 9]);
            out.extend(block(T::Denunciation));
            out.extend([None; 10]);
            out
        }
        "06/QLKNTC" => vec![None; 17],
        other => panic!("no expectation for {other}"),
    }
}

/// The form `code` of the province for the quarter, and the row values by unit and kind.
async fn form_at(ch: &Channel, code: &str) -> pb::FormReport {
    reports(ch)
        .get_form_report(pb::GetFormReportRequest {
            unit_code: String::new(),
            period: "2026-Q3".into(),
            calendar: pb::PeriodCalendar::Calendar as i32,
            form: code.into(),
        })
        .await
        .unwrap_or_else(|e| panic!("form {code}: {e}"))
        .into_inner()
        .report
        .unwrap()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-6,
        (None, None) => true,
        _ => false,
    }
}

async fn every_column_of_every_form(backend: Backend) {
    let tree = Tree::start(backend, Depth::Two, Options::default()).await;
    let province = tree.root();
    for (salt, code) in tree.codes().into_iter().enumerate() {
        seed(&tree.channel(code), &format!("f{code}"), salt as u32).await;
    }
    // A petition transferred from a commune to the province: counted once in the total.
    let sent = transfer_up(
        &tree.channel("09574"),
        "f-up",
        province,
        local(2026, 7, 20, 8, 0, 0),
    )
    .await;
    wait_transferred_in(&tree.channel(province), province, &sent.id).await;
    settle(&tree).await;

    let ch = tree.channel(province);
    let mut held: BTreeMap<String, Held> = BTreeMap::new();
    for code in tree.codes() {
        let at = tree.channel(code);
        let r = records_of(&at, code, code).await;
        held.insert(
            code.to_string(),
            Held {
                visits: r.visits.into_values().collect(),
                petitions: r.petitions.into_values().collect(),
                cases: r.cases.into_values().collect(),
                schedules: schedules_at(&at)
                    .await
                    .into_iter()
                    .filter(|e| e.unit_code == code)
                    .collect(),
            },
        );
    }
    // The total: every unit's records, a petition transferred in from a unit of the tree
    // left out (its source counted it).
    let mut all = Held::default();
    for h in held.values() {
        all.visits.extend(h.visits.iter().cloned());
        all.petitions.extend(
            h.petitions
                .iter()
                .filter(|p| p.source_unit.is_empty())
                .cloned(),
        );
        all.cases.extend(h.cases.iter().cloned());
        all.schedules.extend(h.schedules.iter().cloned());
    }

    let mut failures = Vec::new();
    let mut filled = BTreeMap::new();
    for code in [
        "01/TCD",
        "02/XLD",
        "03/GQKN",
        "04/GQTC",
        "05/KQTH",
        "06/QLKNTC",
    ] {
        let form = form_at(&ch, code).await;
        assert_eq!(form.code, code);
        assert_eq!(form.circular, "06/2025/TT-TTCP");
        assert_eq!(
            (form.start_date.as_str(), form.end_date.as_str()),
            ("2026-07-01", "2026-09-30")
        );
        let kinds: Vec<(i32, String)> = form
            .rows
            .iter()
            .map(|r| (r.kind, r.unit.clone().unwrap().code))
            .collect();
        let mut want: Vec<(i32, String)> = tree
            .children(province)
            .iter()
            .map(|c| (pb::FormRowKind::Child as i32, c.to_string()))
            .collect();
        want.push((pb::FormRowKind::Own as i32, province.to_string()));
        want.push((pb::FormRowKind::Total as i32, province.to_string()));
        assert_eq!(kinds, want, "{code}: rows");
        for row in &form.rows {
            let unit = row.unit.clone().unwrap().code;
            let expect = if row.kind == pb::FormRowKind::Total as i32 {
                expected(code, &all)
            } else {
                expected(code, &held[&unit])
            };
            assert_eq!(expect.len(), form.columns.len(), "{code}: column count");
            for (i, (want, cell)) in expect.iter().zip(&row.cells).enumerate() {
                if !close(*want, cell.value) {
                    failures.push(format!(
                        "{code} row {unit} ({:?}) column {}: form {:?}, recount {want:?}",
                        row.kind,
                        i + 1,
                        cell.value
                    ));
                }
                assert_eq!(
                    form.columns[i].recorded,
                    want.is_some(),
                    "{code} column {}: recorded as its cells are",
                    i + 1
                );
            }
        }
        filled.insert(code, form);
    }
    assert!(
        failures.is_empty(),
        "{} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The data set is not empty where it matters.
    let total = |code: &str, col: usize| {
        filled[code].rows.last().unwrap().cells[col - 1]
            .value
            .unwrap_or_default()
    };
    for (code, col) in [
        ("01/TCD", 1),
        ("01/TCD", 10),
        ("02/XLD", 1),
        ("02/XLD", 25),
        ("03/GQKN", 7),
        ("04/GQTC", 7),
        ("05/KQTH", 2),
    ] {
        assert!(
            total(code, col) > 0.0,
            "{code} column {col} is 0 in the total"
        );
    }
    // The equalities FORMS.md lists between forms, on every row.
    for i in 0..filled["02/XLD"].rows.len() {
        let cell = |code: &str, col: usize| filled[code].rows[i].cells[col - 1].value;
        assert_eq!(
            cell("03/GQKN", 1),
            cell("02/XLD", 6),
            "03/GQKN (1) = 02/XLD (6)"
        );
        assert_eq!(
            cell("04/GQTC", 1),
            cell("02/XLD", 12),
            "04/GQTC (1) = 02/XLD (12)"
        );
        for (a, b) in [(2, 1), (3, 2), (4, 3), (5, 4)] {
            assert!(
                cell("02/XLD", a) <= cell("02/XLD", b),
                "02/XLD ({a}) ≤ ({b}) on row {i}"
            );
        }
    }
    // Nothing stale: the notes name no unit.
    assert!(
        filled["02/XLD"]
            .notes
            .iter()
            .all(|n| !n.contains("chưa đồng bộ đến"))
    );
    // A form of another period's circular, or of no circular, is refused with the field.
    let refused = reports(&ch)
        .get_form_report(pb::GetFormReportRequest {
            period: "2019-Q3".into(),
            form: "02/XLD".into(),
            ..Default::default()
        })
        .await;
    assert_invalid(&refused.unwrap_err(), &["form"]);
    tree.stop().await;
}

on_every_backend!(every_column_of_every_form);
