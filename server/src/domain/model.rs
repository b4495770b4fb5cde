//! Records of the domain: units, reception visits, the heads' schedule and conclusions,
//! petitions with their petitioners, and cases.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Declares a closed domain enum with a stable lower-case name per variant: the name is what
/// the database stores and what logs show, so it never changes once released.
macro_rules! domain_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable name stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses a stored name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

domain_enum! {
    /// Level of a unit in the administrative tree.
    pub enum UnitLevel {
        /// Xã.
        Commune => "commune",
        /// Phường.
        Ward => "ward",
        /// Thị xã, quận, huyện.
        District => "district",
        /// Tỉnh, thành phố.
        Province => "province",
        /// Thanh tra Chính phủ.
        National => "national",
        /// Đặc khu: a commune-level special zone (since 1/7/2025).
        SpecialZone => "special_zone",
    }
}

domain_enum! {
    /// Kind of a reception visit.
    pub enum ReceptionKind {
        /// Thường xuyên.
        Regular => "regular",
        /// Định kỳ: a head's scheduled day.
        Periodic => "periodic",
        /// Đột xuất.
        Unscheduled => "unscheduled",
    }
}

domain_enum! {
    /// Who received citizens.
    pub enum ReceiverRole {
        /// Reception staff.
        Staff => "staff",
        /// Bí thư cấp ủy.
        PartySecretary => "party_secretary",
        /// Chủ tịch UBND.
        CommitteeChairman => "committee_chairman",
        /// Đại biểu HĐND.
        CouncilDelegate => "council_delegate",
    }
}

impl ReceiverRole {
    /// Whether the role is a head's: a session led by a head counts in the reception form.
    pub fn is_head(self) -> bool {
        self != ReceiverRole::Staff
    }
}

domain_enum! {
    /// Whether a matter is raised for the first time.
    pub enum MatterKind {
        /// Lần đầu.
        First => "first",
        /// Tái diễn.
        Repeat => "repeat",
    }
}

domain_enum! {
    /// What was done at a visit.
    pub enum ReceptionAction {
        /// Taken in.
        Accepted => "accepted",
        /// Guided elsewhere.
        Guided => "guided",
        /// Transferred.
        Transferred => "transferred",
    }
}

domain_enum! {
    /// Progress of a head's conclusion.
    pub enum ConclusionStatus {
        /// Announced.
        Pending => "pending",
        /// Being carried out.
        InProgress => "in_progress",
        /// Carried out.
        Done => "done",
    }
}

domain_enum! {
    /// How a petition arrived.
    pub enum Channel {
        /// At reception.
        InPerson => "in_person",
        /// By post.
        Post => "post",
        /// Online.
        Online => "online",
        /// From another body.
        TransferredIn => "transferred_in",
    }
}

domain_enum! {
    /// Content type of a petition.
    pub enum PetitionType {
        /// Khiếu nại.
        Complaint => "complaint",
        /// Tố cáo.
        Denunciation => "denunciation",
        /// Kiến nghị, phản ánh.
        Recommendation => "recommendation",
        /// Several types in one petition.
        Mixed => "mixed",
    }
}

domain_enum! {
    /// Field of the matter.
    pub enum Field {
        /// Đất đai, nhà cửa.
        LandHousing => "land_housing",
        /// Hành chính.
        Administration => "administration",
        /// Tư pháp.
        Justice => "justice",
        /// Đảng.
        Party => "party",
        /// Tham nhũng.
        Corruption => "corruption",
        /// Other.
        Other => "other",
    }
}

domain_enum! {
    /// Lifecycle state of a petition.
    pub enum PetitionStatus {
        /// Received, not classified.
        Received => "received",
        /// Classified, not routed.
        Classified => "classified",
        /// Thụ lý.
        Accepted => "accepted",
        /// Hướng dẫn.
        Guided => "guided",
        /// Chuyển đơn.
        Transferred => "transferred",
        /// Đôn đốc.
        Urged => "urged",
        /// Returned.
        Returned => "returned",
        /// Rút.
        Withdrawn => "withdrawn",
        /// Lưu đơn.
        Filed => "filed",
    }
}

impl PetitionStatus {
    /// Whether the petition still waits to be routed, so its processing limit runs.
    pub fn is_pending(self) -> bool {
        matches!(self, PetitionStatus::Received | PetitionStatus::Classified)
    }
}

domain_enum! {
    /// Eligibility for handling.
    pub enum Eligibility {
        /// Đủ điều kiện xử lý.
        Eligible => "eligible",
        /// Không đủ điều kiện.
        Ineligible => "ineligible",
    }
}

domain_enum! {
    /// Jurisdiction of the receiving unit.
    pub enum Jurisdiction {
        /// Thuộc thẩm quyền.
        Within => "within",
        /// Không thuộc thẩm quyền.
        Outside => "outside",
    }
}

domain_enum! {
    /// Why a petition was filed without action.
    pub enum FileReason {
        /// Not eligible.
        Ineligible => "ineligible",
        /// Duplicate.
        Duplicate => "duplicate",
        /// Already decided.
        AlreadyDecided => "already_decided",
        /// Another reason.
        Other => "other",
    }
}

domain_enum! {
    /// Lifecycle state of a case.
    pub enum CaseStatus {
        /// Being resolved.
        Open => "open",
        /// Decision issued.
        Resolved => "resolved",
        /// Decision in legal force.
        InForce => "in_force",
        /// Decision enforced.
        Enforced => "enforced",
        /// Withdrawn by the petitioner.
        Withdrawn => "withdrawn",
    }
}

domain_enum! {
    /// Outcome of a resolved case.
    pub enum CaseOutcome {
        /// Khiếu nại đúng.
        ComplaintCorrect => "complaint_correct",
        /// Khiếu nại có đúng, có sai.
        ComplaintPartlyCorrect => "complaint_partly_correct",
        /// Khiếu nại sai.
        ComplaintIncorrect => "complaint_incorrect",
        /// Tố cáo đúng.
        DenunciationFounded => "denunciation_founded",
        /// Tố cáo có đúng, có sai.
        DenunciationPartlyFounded => "denunciation_partly_founded",
        /// Tố cáo sai.
        DenunciationUnfounded => "denunciation_unfounded",
        /// Kiến nghị, phản ánh answered.
        RecommendationAnswered => "recommendation_answered",
        /// Rút.
        Withdrawn => "withdrawn",
    }
}

impl CaseOutcome {
    /// Whether this outcome can close a case of the given type.
    pub fn fits(self, case_type: PetitionType) -> bool {
        use CaseOutcome::*;
        match self {
            Withdrawn => true,
            ComplaintCorrect | ComplaintPartlyCorrect | ComplaintIncorrect => {
                matches!(case_type, PetitionType::Complaint | PetitionType::Mixed)
            }
            DenunciationFounded | DenunciationPartlyFounded | DenunciationUnfounded => {
                matches!(case_type, PetitionType::Denunciation | PetitionType::Mixed)
            }
            RecommendationAnswered => {
                matches!(
                    case_type,
                    PetitionType::Recommendation | PetitionType::Mixed
                )
            }
        }
    }
}

/// An administrative unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// Statistics-office code.
    pub code: String,
    /// Official name.
    pub name: String,
    /// Level.
    pub level: UnitLevel,
    /// Parent's code; `None` at the root of the known tree.
    pub parent_code: Option<String>,
    /// Vùng sâu, vùng xa: longer complaint limits.
    pub remote: bool,
}

/// A reception visit (lượt tiếp).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    pub id: String,
    pub unit_code: String,
    pub visit_time: DateTime<Utc>,
    pub kind: ReceptionKind,
    pub receiver_role: ReceiverRole,
    pub receiver_name: String,
    pub persons: u32,
    /// Đoàn đông người: 5 or more persons about one matter.
    pub crowd_group: bool,
    pub matter: MatterKind,
    pub action: ReceptionAction,
    pub summary: String,
    pub schedule_entry_id: Option<String>,
    pub create_time: DateTime<Utc>,
}

/// Persons from whom a visit is a crowd group (đoàn đông người).
pub const CROWD_GROUP_MIN_PERSONS: u32 = 5;

/// A head's published reception day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub id: String,
    pub unit_code: String,
    pub receiver_role: ReceiverRole,
    pub receiver_name: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub location: String,
}

/// A head's conclusion after a session, followed until carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conclusion {
    pub id: String,
    pub unit_code: String,
    pub visit_id: String,
    pub text: String,
    pub assignee: String,
    pub conclusion_time: DateTime<Utc>,
    pub status: ConclusionStatus,
    pub progress_note: String,
    pub done_time: Option<DateTime<Utc>>,
}

/// A petitioner's personal details: sensitive, kept apart from the petition record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Petitioner {
    pub full_name: String,
    pub address: String,
    pub id_number: String,
    pub phone: String,
    pub email: String,
}

/// The result of classifying a petition by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub petition_type: PetitionType,
    pub field: Field,
    /// 1 or 2 for a complaint, 0 otherwise.
    pub complaint_round: u32,
    pub eligibility: Eligibility,
    pub jurisdiction: Jurisdiction,
    pub has_evidence: bool,
}

/// A petition (đơn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Petition {
    pub id: String,
    pub unit_code: String,
    pub received_time: DateTime<Utc>,
    pub channel: Channel,
    pub summary: String,
    pub status: PetitionStatus,
    pub anonymous: bool,
    pub signers: u32,
    pub visit_id: Option<String>,
    /// Set once classified.
    pub classification: Option<Classification>,
    pub case_id: Option<String>,
    pub transferred_to_unit: Option<String>,
    pub outside_body: Option<String>,
    pub file_reason: Option<FileReason>,
    pub note: String,
    /// Last local day on which routing the petition is on time.
    pub due_date: NaiveDate,
    pub processed_time: Option<DateTime<Utc>>,
    pub version: u32,
    pub update_time: DateTime<Utc>,
    /// For a petition transferred in from a unit of the tree: that unit's petition.
    #[serde(default)]
    pub source_petition_id: Option<String>,
    /// For a petition transferred in from a unit of the tree: that unit.
    #[serde(default)]
    pub source_unit: Option<String>,
    /// For a petition this unit transferred in the tree: how it was resolved there.
    #[serde(default)]
    pub result: Option<PetitionResult>,
}

/// The result, reported back down the tree, of a case that resolved a transferred petition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PetitionResult {
    pub case_id: String,
    pub outcome: CaseOutcome,
    pub decision_time: DateTime<Utc>,
}

/// A case (vụ việc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub owner_unit: String,
    pub case_type: PetitionType,
    pub field: Field,
    pub complaint_round: u32,
    pub complex: bool,
    pub extensions: u32,
    pub status: CaseStatus,
    pub accept_time: DateTime<Utc>,
    /// Last local day on which the decision is on time.
    pub due_date: NaiveDate,
    pub petition_ids: Vec<String>,
    pub outcome: Option<CaseOutcome>,
    pub decision_number: String,
    pub decision_time: Option<DateTime<Utc>>,
    pub money_to_recover_vnd: i64,
    pub land_to_recover_m2: f64,
    pub effective_time: Option<DateTime<Utc>>,
    pub money_recovered_vnd: i64,
    pub land_recovered_m2: f64,
    pub enforced_time: Option<DateTime<Utc>>,
    pub version: u32,
    pub update_time: DateTime<Utc>,
}

impl Case {
    /// Whether the case waits for its decision, so its resolution limit runs.
    pub fn is_open(&self) -> bool {
        self.status == CaseStatus::Open
    }
}
