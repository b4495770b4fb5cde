//! Enum values as lower-case words (`complaint`, `land_housing`) for people and files, from
//! the protobuf names (`PETITION_TYPE_COMPLAINT`) so that a value added to the API is a word
//! here without a change.

use tiepdan_proto::v1 as pb;

/// A protobuf enum of `tiepdan.v1`, named by the prefix its values share.
pub trait Word: Copy + Sized + 'static {
    /// Prefix of every value name, e.g. `PETITION_TYPE`.
    const PREFIX: &'static str;
    /// The protobuf value name, e.g. `PETITION_TYPE_COMPLAINT`.
    fn proto_name(self) -> &'static str;
    /// The value of a protobuf value name.
    fn from_proto_name(name: &str) -> Option<Self>;
    /// The value of a wire number.
    fn from_number(number: i32) -> Option<Self>;
    /// The wire number.
    fn number(self) -> i32;
}

macro_rules! words {
    ($($ty:ident => $prefix:literal),+ $(,)?) => {
        $(
            impl Word for pb::$ty {
                const PREFIX: &'static str = $prefix;
                fn proto_name(self) -> &'static str {
                    self.as_str_name()
                }
                fn from_proto_name(name: &str) -> Option<Self> {
                    pb::$ty::from_str_name(name)
                }
                fn from_number(number: i32) -> Option<Self> {
                    pb::$ty::try_from(number).ok()
                }
                fn number(self) -> i32 {
                    self as i32
                }
            }
        )+
    };
}

words!(
    UnitLevel => "UNIT_LEVEL",
    ReceptionKind => "RECEPTION_KIND",
    ReceiverRole => "RECEIVER_ROLE",
    MatterKind => "MATTER_KIND",
    ReceptionAction => "RECEPTION_ACTION",
    ConclusionStatus => "CONCLUSION_STATUS",
    Channel => "CHANNEL",
    PetitionType => "PETITION_TYPE",
    Field => "FIELD",
    PetitionStatus => "PETITION_STATUS",
    Eligibility => "ELIGIBILITY",
    Jurisdiction => "JURISDICTION",
    FileReason => "FILE_REASON",
    CaseStatus => "CASE_STATUS",
    CaseOutcome => "CASE_OUTCOME",
);

/// The word of a value: `PETITION_TYPE_COMPLAINT` → `complaint`.
pub fn word<T: Word>(value: T) -> String {
    let name = value.proto_name();
    name.strip_prefix(T::PREFIX)
        .and_then(|rest| rest.strip_prefix('_'))
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// The word of a wire number; `None` for unspecified, the number itself when this release
/// does not know it (a newer node sent it).
pub fn word_of<T: Word>(number: i32) -> Option<String> {
    if number == 0 {
        return None;
    }
    Some(T::from_number(number).map_or_else(|| number.to_string(), word))
}

/// Every specified value with its word, in wire order.
pub fn all<T: Word>() -> Vec<(T, String)> {
    // Values are numbered densely from 1; stop at the first gap after a generous bound.
    (1..64)
        .filter_map(T::from_number)
        .map(|v| (v, word(v)))
        .collect()
}

/// Vietnamese names of the values, by protobuf value name: what an officer writes, accepted
/// with or without diacritics (`khiếu nại`, `khieu-nai`).
const VIETNAMESE: &[(&str, &str)] = &[
    ("UNIT_LEVEL_COMMUNE", "xã"),
    ("UNIT_LEVEL_WARD", "phường"),
    ("UNIT_LEVEL_DISTRICT", "huyện"),
    ("UNIT_LEVEL_SPECIAL_ZONE", "đặc khu"),
    ("UNIT_LEVEL_PROVINCE", "tỉnh"),
    ("UNIT_LEVEL_NATIONAL", "trung ương"),
    ("RECEPTION_KIND_REGULAR", "thường xuyên"),
    ("RECEPTION_KIND_PERIODIC", "định kỳ"),
    ("RECEPTION_KIND_UNSCHEDULED", "đột xuất"),
    ("RECEIVER_ROLE_STAFF", "cán bộ"),
    ("RECEIVER_ROLE_PARTY_SECRETARY", "bí thư"),
    ("RECEIVER_ROLE_COMMITTEE_CHAIRMAN", "chủ tịch"),
    ("RECEIVER_ROLE_COUNCIL_DELEGATE", "đại biểu"),
    ("MATTER_KIND_FIRST", "lần đầu"),
    ("MATTER_KIND_REPEAT", "nhiều lần"),
    ("RECEPTION_ACTION_ACCEPTED", "tiếp nhận"),
    ("RECEPTION_ACTION_GUIDED", "hướng dẫn"),
    ("RECEPTION_ACTION_TRANSFERRED", "chuyển"),
    ("CONCLUSION_STATUS_PENDING", "chưa thực hiện"),
    ("CONCLUSION_STATUS_IN_PROGRESS", "đang thực hiện"),
    ("CONCLUSION_STATUS_DONE", "đã thực hiện"),
    ("CHANNEL_IN_PERSON", "trực tiếp"),
    ("CHANNEL_POST", "bưu điện"),
    ("CHANNEL_ONLINE", "trực tuyến"),
    ("CHANNEL_TRANSFERRED_IN", "chuyển đến"),
    ("PETITION_TYPE_COMPLAINT", "khiếu nại"),
    ("PETITION_TYPE_DENUNCIATION", "tố cáo"),
    ("PETITION_TYPE_RECOMMENDATION", "kiến nghị, phản ánh"),
    ("PETITION_TYPE_RECOMMENDATION", "kiến nghị"),
    ("PETITION_TYPE_RECOMMENDATION", "phản ánh"),
    ("PETITION_TYPE_MIXED", "nhiều nội dung"),
    ("FIELD_LAND_HOUSING", "đất đai"),
    ("FIELD_LAND_HOUSING", "đất đai, nhà cửa"),
    ("FIELD_ADMINISTRATION", "hành chính"),
    ("FIELD_JUSTICE", "tư pháp"),
    ("FIELD_PARTY", "đảng"),
    ("FIELD_CORRUPTION", "tham nhũng"),
    ("FIELD_OTHER", "khác"),
    ("PETITION_STATUS_RECEIVED", "đã nhận"),
    ("PETITION_STATUS_CLASSIFIED", "đã phân loại"),
    ("PETITION_STATUS_ACCEPTED", "đã thụ lý"),
    ("PETITION_STATUS_GUIDED", "đã hướng dẫn"),
    ("PETITION_STATUS_TRANSFERRED", "đã chuyển"),
    ("PETITION_STATUS_URGED", "đôn đốc"),
    ("PETITION_STATUS_RETURNED", "trả lại"),
    ("PETITION_STATUS_WITHDRAWN", "rút đơn"),
    ("PETITION_STATUS_FILED", "lưu đơn"),
    ("ELIGIBILITY_ELIGIBLE", "đủ điều kiện"),
    ("ELIGIBILITY_INELIGIBLE", "không đủ điều kiện"),
    ("JURISDICTION_WITHIN", "thuộc thẩm quyền"),
    ("JURISDICTION_OUTSIDE", "không thuộc thẩm quyền"),
    ("FILE_REASON_INELIGIBLE", "không đủ điều kiện"),
    ("FILE_REASON_DUPLICATE", "trùng"),
    ("FILE_REASON_ALREADY_DECIDED", "đã giải quyết"),
    ("FILE_REASON_OTHER", "khác"),
    ("CASE_STATUS_OPEN", "đang giải quyết"),
    ("CASE_STATUS_RESOLVED", "đã giải quyết"),
    ("CASE_STATUS_IN_FORCE", "có hiệu lực"),
    ("CASE_STATUS_ENFORCED", "đã thi hành"),
    ("CASE_STATUS_WITHDRAWN", "rút"),
    ("CASE_OUTCOME_COMPLAINT_CORRECT", "khiếu nại đúng"),
    (
        "CASE_OUTCOME_COMPLAINT_PARTLY_CORRECT",
        "khiếu nại đúng một phần",
    ),
    (
        "CASE_OUTCOME_COMPLAINT_PARTLY_CORRECT",
        "khiếu nại có đúng có sai",
    ),
    ("CASE_OUTCOME_COMPLAINT_INCORRECT", "khiếu nại sai"),
    ("CASE_OUTCOME_DENUNCIATION_FOUNDED", "tố cáo đúng"),
    (
        "CASE_OUTCOME_DENUNCIATION_PARTLY_FOUNDED",
        "tố cáo có đúng có sai",
    ),
    ("CASE_OUTCOME_DENUNCIATION_UNFOUNDED", "tố cáo sai"),
    ("CASE_OUTCOME_RECOMMENDATION_ANSWERED", "đã trả lời"),
    ("CASE_OUTCOME_WITHDRAWN", "rút"),
];

/// Vietnamese text without its diacritics, lower case, words joined by `_`: `Khiếu nại` →
/// `khieu_nai`.
fn folded(text: &str) -> String {
    const GROUPS: [(&str, char); 7] = [
        ("àáảãạăằắẳẵặâầấẩẫậ", 'a'),
        ("èéẻẽẹêềếểễệ", 'e'),
        ("ìíỉĩị", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợ", 'o'),
        ("ùúủũụưừứửữự", 'u'),
        ("ỳýỷỹỵ", 'y'),
        ("đ", 'd'),
    ];
    let mut out = String::new();
    for c in text.trim().to_lowercase().chars() {
        let c = GROUPS
            .iter()
            .find(|(set, _)| set.contains(c))
            .map_or(c, |(_, plain)| *plain);
        match c {
            '-' | ' ' | ',' | '_' => {
                if !out.ends_with('_') && !out.is_empty() {
                    out.push('_');
                }
            }
            c => out.push(c),
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The Vietnamese name of a value, where it has one (the first listed).
pub fn vietnamese<T: Word>(value: T) -> Option<&'static str> {
    VIETNAMESE
        .iter()
        .find(|(name, _)| *name == value.proto_name())
        .map(|(_, vi)| *vi)
}

/// Parses a word, case-insensitively, with `-` or a space standing for `_`, or a Vietnamese
/// name of the value, with or without diacritics. Unspecified is not a word: a value that is
/// given must mean something.
pub fn parse<T: Word>(input: &str) -> Result<T, String> {
    let wanted = folded(input);
    if let Some(v) = VIETNAMESE
        .iter()
        .filter(|(name, _)| {
            name.strip_prefix(T::PREFIX)
                .is_some_and(|r| r.starts_with('_'))
        })
        .find(|(_, vi)| folded(vi) == wanted)
        .and_then(|(name, _)| T::from_proto_name(name))
    {
        return Ok(v);
    }
    let normalized: String = input
        .trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    let name = format!("{}_{normalized}", T::PREFIX);
    match T::from_proto_name(&name) {
        Some(v) if v.number() != 0 => Ok(v),
        _ => Err(format!(
            "{:?} is not one of: {}",
            input.trim(),
            all::<T>()
                .into_iter()
                .map(|(v, w)| match vietnamese(v) {
                    Some(vi) => format!("{w} ({vi})"),
                    None => w,
                })
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        assert_eq!(word(pb::Field::LandHousing), "land_housing");
        assert_eq!(
            word(pb::ReceiverRole::PartySecretary),
            "party_secretary".to_string()
        );
        assert_eq!(
            parse::<pb::Field>("land-housing"),
            Ok(pb::Field::LandHousing)
        );
        assert_eq!(
            parse::<pb::PetitionType>(" Complaint "),
            Ok(pb::PetitionType::Complaint)
        );
        for (value, w) in all::<pb::CaseOutcome>() {
            assert_eq!(parse::<pb::CaseOutcome>(&w), Ok(value));
        }
        assert_eq!(all::<pb::PetitionType>().len(), 4);
    }

    #[test]
    fn vietnamese_names_with_or_without_diacritics() {
        assert_eq!(
            parse::<pb::PetitionType>("Khiếu nại"),
            Ok(pb::PetitionType::Complaint)
        );
        assert_eq!(
            parse::<pb::PetitionType>("khieu-nai"),
            Ok(pb::PetitionType::Complaint)
        );
        assert_eq!(parse::<pb::Field>("đất đai"), Ok(pb::Field::LandHousing));
        assert_eq!(parse::<pb::Field>("dat dai"), Ok(pb::Field::LandHousing));
        assert_eq!(
            parse::<pb::CaseOutcome>("khiếu nại có đúng có sai"),
            Ok(pb::CaseOutcome::ComplaintPartlyCorrect)
        );
        assert_eq!(
            parse::<pb::ReceiverRole>("Chủ tịch"),
            Ok(pb::ReceiverRole::CommitteeChairman)
        );
        // A name is looked up only among its own enum's values.
        assert!(parse::<pb::Field>("khiếu nại").is_err());
        // Every value of every enum has a Vietnamese name, and it parses back to it.
        fn each<T: Word + PartialEq + std::fmt::Debug>() {
            for (value, w) in all::<T>() {
                let vi = vietnamese(value).unwrap_or_else(|| panic!("no Vietnamese for {w}"));
                assert_eq!(parse::<T>(vi), Ok(value), "{vi}");
            }
        }
        each::<pb::UnitLevel>();
        each::<pb::ReceptionKind>();
        each::<pb::ReceiverRole>();
        each::<pb::MatterKind>();
        each::<pb::ReceptionAction>();
        each::<pb::ConclusionStatus>();
        each::<pb::Channel>();
        each::<pb::PetitionType>();
        each::<pb::Field>();
        each::<pb::PetitionStatus>();
        each::<pb::Eligibility>();
        each::<pb::Jurisdiction>();
        each::<pb::FileReason>();
        each::<pb::CaseStatus>();
        each::<pb::CaseOutcome>();
    }

    #[test]
    fn unspecified_and_unknown() {
        assert!(parse::<pb::PetitionType>("unspecified").is_err());
        let err = parse::<pb::PetitionType>("khiếu nại gì đó")
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("complaint (khiếu nại), denunciation (tố cáo)"),
            "{err}"
        );
        assert_eq!(word_of::<pb::PetitionType>(0), None);
        assert_eq!(word_of::<pb::PetitionType>(2), Some("denunciation".into()));
        assert_eq!(word_of::<pb::PetitionType>(99), Some("99".into()));
    }
}
