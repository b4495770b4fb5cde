//! The indicators of `tiepdan report`, in order: which form each feeds, its Vietnamese and
//! English labels, and its value; and the petition types' names.

use tiepdan_proto::v1 as pb;

use super::args::Lang;

/// The report's rows: (form, Vietnamese label, English label, value).
pub fn lines(t: &pb::Totals) -> Vec<(&'static str, &'static str, &'static str, String)> {
    let rate = t.resolution_rate.unwrap_or_default();
    vec![
        ("01/TCD", "Lượt tiếp", "Visits", t.visits.to_string()),
        (
            "01/TCD",
            "Số người được tiếp",
            "Persons",
            t.persons.to_string(),
        ),
        (
            "01/TCD",
            "Đoàn đông người",
            "Crowd groups",
            t.crowd_groups.to_string(),
        ),
        (
            "01/TCD",
            "Số người trong đoàn đông người",
            "Persons in crowd groups",
            t.crowd_persons.to_string(),
        ),
        (
            "01/TCD",
            "Kỳ tiếp do lãnh đạo chủ trì",
            "Sessions led by a head",
            t.head_sessions.to_string(),
        ),
        (
            "01/TCD",
            "Vụ việc tiếp lần đầu",
            "Matters, first time",
            t.matters_first.to_string(),
        ),
        (
            "01/TCD",
            "Vụ việc tiếp nhiều lần",
            "Matters, repeated",
            t.matters_repeat.to_string(),
        ),
        (
            "01/XLD",
            "Đơn tiếp nhận",
            "Petitions received",
            t.petitions_received.to_string(),
        ),
        (
            "01/XLD",
            "Đơn đủ điều kiện xử lý",
            "Petitions eligible",
            t.petitions_eligible.to_string(),
        ),
        (
            "01/XLD",
            "Đơn thuộc thẩm quyền",
            "Within jurisdiction",
            t.petitions_in_jurisdiction.to_string(),
        ),
        (
            "01/XLD",
            "Đơn đã thụ lý",
            "Accepted",
            t.petitions_accepted.to_string(),
        ),
        (
            "01/XLD",
            "Đơn đã chuyển",
            "Transferred",
            t.petitions_transferred.to_string(),
        ),
        (
            "01/XLD",
            "Đơn đã hướng dẫn",
            "Guided",
            t.petitions_guided.to_string(),
        ),
        (
            "01/XLD",
            "Đơn đôn đốc",
            "Urged",
            t.petitions_urged.to_string(),
        ),
        (
            "01/XLD",
            "Đơn trả lại",
            "Returned",
            t.petitions_returned.to_string(),
        ),
        (
            "01/XLD",
            "Đơn rút",
            "Withdrawn",
            t.petitions_withdrawn.to_string(),
        ),
        ("01/XLD", "Đơn lưu", "Filed", t.petitions_filed.to_string()),
        (
            "01/KQGQ",
            "Vụ việc kỳ trước chuyển sang",
            "Cases carried over",
            t.cases_carried_over.to_string(),
        ),
        (
            "01/KQGQ",
            "Vụ việc thụ lý mới",
            "Cases accepted",
            t.cases_accepted.to_string(),
        ),
        (
            "01/KQGQ",
            "Tổng vụ việc phải giải quyết",
            "Cases to resolve",
            t.cases_to_resolve.to_string(),
        ),
        (
            "01/KQGQ",
            "Vụ việc đã giải quyết",
            "Cases resolved",
            t.cases_resolved.to_string(),
        ),
        (
            "01/KQGQ",
            "Giải quyết đúng hạn",
            "Resolved on time",
            t.cases_resolved_on_time.to_string(),
        ),
        (
            "01/KQGQ",
            "Vụ việc quá hạn",
            "Cases overdue",
            t.cases_overdue.to_string(),
        ),
        (
            "01/KQGQ",
            "Đúng / có cơ sở",
            "Correct / founded",
            t.outcome_correct.to_string(),
        ),
        (
            "01/KQGQ",
            "Có đúng có sai",
            "Partly correct",
            t.outcome_partly_correct.to_string(),
        ),
        (
            "01/KQGQ",
            "Sai / không có cơ sở",
            "Incorrect / unfounded",
            t.outcome_incorrect.to_string(),
        ),
        (
            "01/KQGQ",
            "Rút đơn",
            "Withdrawn",
            t.outcome_withdrawn.to_string(),
        ),
        (
            "01/KQGQ",
            "Tiền phải thu hồi (đồng)",
            "Money to recover (VND)",
            t.money_to_recover_vnd.to_string(),
        ),
        (
            "01/KQGQ",
            "Tiền đã thu hồi (đồng)",
            "Money recovered (VND)",
            t.money_recovered_vnd.to_string(),
        ),
        (
            "01/KQGQ",
            "Đất phải thu hồi (m²)",
            "Land to recover (m²)",
            format!("{:.2}", t.land_to_recover_m2),
        ),
        (
            "01/KQGQ",
            "Đất đã thu hồi (m²)",
            "Land recovered (m²)",
            format!("{:.2}", t.land_recovered_m2),
        ),
        (
            "01/KQGQ",
            "Tỷ lệ giải quyết",
            "Resolution rate",
            format!(
                "{} / {} = {} %",
                rate.numerator, rate.denominator, rate.percent
            ),
        ),
    ]
}

pub fn type_name(t: i32, lang: Lang) -> &'static str {
    match (
        pb::PetitionType::try_from(t).unwrap_or(pb::PetitionType::Unspecified),
        lang,
    ) {
        (pb::PetitionType::Complaint, Lang::Vi) => "Khiếu nại",
        (pb::PetitionType::Denunciation, Lang::Vi) => "Tố cáo",
        (pb::PetitionType::Recommendation, Lang::Vi) => "Kiến nghị, phản ánh",
        (pb::PetitionType::Mixed, Lang::Vi) => "Nhiều nội dung",
        (pb::PetitionType::Complaint, Lang::En) => "Complaints",
        (pb::PetitionType::Denunciation, Lang::En) => "Denunciations",
        (pb::PetitionType::Recommendation, Lang::En) => "Recommendations",
        (pb::PetitionType::Mixed, Lang::En) => "Mixed",
        _ => "-",
    }
}
