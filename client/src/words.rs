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

/// Parses a word, case-insensitively, with `-` or a space standing for `_`. Unspecified is
/// not a word: a value that is given must mean something.
pub fn parse<T: Word>(input: &str) -> Result<T, String> {
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
                .map(|(_, w)| w)
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
    fn unspecified_and_unknown() {
        assert!(parse::<pb::PetitionType>("unspecified").is_err());
        let err = parse::<pb::PetitionType>("khiếu nại")
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("complaint, denunciation, recommendation, mixed"),
            "{err}"
        );
        assert_eq!(word_of::<pb::PetitionType>(0), None);
        assert_eq!(word_of::<pb::PetitionType>(2), Some("denunciation".into()));
        assert_eq!(word_of::<pb::PetitionType>(99), Some("99".into()));
    }
}
