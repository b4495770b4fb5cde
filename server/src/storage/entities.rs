//! sea-orm entities, one per table. Times are stored as microseconds since the Unix epoch
//! (UTC) in BIGINT columns: the same type, order and precision on SQLite and PostgreSQL.
//! Enumerations are stored by their stable lower-case names.

macro_rules! entity_module {
    ($module:ident, $table:literal, { $($body:tt)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[sea_orm::model]
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model { $($body)* }

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity_module!(unit, "unit", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub remote: bool,
    pub is_self: bool,
});

entity_module!(visit, "visit", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub unit_code: String,
    pub visit_us: i64,
    pub kind: String,
    pub receiver_role: String,
    pub receiver_name: String,
    pub persons: i64,
    pub crowd_group: bool,
    pub matter: String,
    pub action: String,
    pub summary: String,
    pub schedule_entry_id: Option<String>,
    pub create_us: i64,
});

entity_module!(schedule_entry, "schedule_entry", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub unit_code: String,
    pub receiver_role: String,
    pub receiver_name: String,
    pub start_us: i64,
    pub end_us: i64,
    pub location: String,
});

entity_module!(conclusion, "conclusion", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub unit_code: String,
    pub visit_id: String,
    pub text: String,
    pub assignee: String,
    pub conclusion_us: i64,
    pub status: String,
    pub progress_note: String,
    pub done_us: Option<i64>,
});

entity_module!(petition, "petition", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub unit_code: String,
    pub received_us: i64,
    pub channel: String,
    pub summary: String,
    pub status: String,
    pub anonymous: bool,
    pub signers: i64,
    pub visit_id: Option<String>,
    pub petition_type: Option<String>,
    pub field: Option<String>,
    pub complaint_round: i64,
    pub eligibility: Option<String>,
    pub jurisdiction: Option<String>,
    pub has_evidence: bool,
    pub case_id: Option<String>,
    pub transferred_to_unit: Option<String>,
    pub outside_body: Option<String>,
    pub file_reason: Option<String>,
    pub note: String,
    pub due_date: Date,
    pub processed_us: Option<i64>,
    pub version: i64,
    pub update_us: i64,
    pub source_petition_id: Option<String>,
    pub source_unit: Option<String>,
    pub result_case_id: Option<String>,
    pub result_outcome: Option<String>,
    pub result_us: Option<i64>,
});

entity_module!(petitioner, "petitioner", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub petition_id: String,
    pub full_name: String,
    pub address: String,
    pub id_number: String,
    pub phone: String,
    pub email: String,
});

entity_module!(case, "case_record", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_unit: String,
    pub case_type: String,
    pub field: String,
    pub complaint_round: i64,
    pub complex: bool,
    pub extensions: i64,
    pub status: String,
    pub accept_us: i64,
    pub due_date: Date,
    pub outcome: Option<String>,
    pub decision_number: String,
    pub decision_us: Option<i64>,
    pub money_to_recover_vnd: i64,
    pub land_to_recover_m2: f64,
    pub effective_us: Option<i64>,
    pub money_recovered_vnd: i64,
    pub land_recovered_m2: f64,
    pub enforced_us: Option<i64>,
    pub version: i64,
    pub update_us: i64,
});

entity_module!(journal_event, "journal_event", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub origin_unit: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    pub event_us: i64,
    pub action: String,
    pub payload: Vec<u8>,
    pub hash: Vec<u8>,
});

entity_module!(journal_head, "journal_head", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub origin_unit: String,
    pub last_sequence: i64,
    pub last_hash: Vec<u8>,
});

entity_module!(request_log, "request_log", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    pub method: String,
    pub fingerprint: Vec<u8>,
    pub result: String,
    pub create_us: i64,
});

entity_module!(counter, "counter", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub value: i64,
});

entity_module!(tally, "tally", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub subtree: bool,
    #[sea_orm(primary_key, auto_increment = false)]
    pub unit_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    pub value: i64,
});

// Sums of `tally` rows over a span of days (`domain::span`): `day` is the span's first day.
entity_module!(tally_rollup, "tally_rollup", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub subtree: bool,
    #[sea_orm(primary_key, auto_increment = false)]
    pub unit_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub span: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    pub value: i64,
});

entity_module!(mail_outbox, "mail_outbox", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub destination_unit: String,
    pub payload: Vec<u8>,
    pub create_us: i64,
});

entity_module!(unit_key, "unit_key", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub unit_code: String,
    pub public_key: Vec<u8>,
    pub secret_key: Option<Vec<u8>>,
});

entity_module!(mail_seen, "mail_seen", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub create_us: i64,
});

// The personal-data audit trail: append-only, never journaled (see `storage::audit`).
entity_module!(personal_data_access, "personal_data_access", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at_us: i64,
    pub subject: String,
    pub role: String,
    pub petition_id: String,
    pub action: String,
    pub reason: String,
});

// The recovery mark and its last outcome (see `storage::recovery`); one row, id 1.
entity_module!(recovery, "recovery", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub reason: String,
    pub start_us: i64,
    pub finish_us: Option<i64>,
    pub events: i64,
    pub petitions_without_details: String,
});

// A reorganisation as journaled (`storage::map`).
entity_module!(reorganisation, "reorganisation", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub authority_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub effective_date: String,
    pub payload: Vec<u8>,
});

// One version of a reorganised unit (`storage::map`).
entity_module!(unit_version, "unit_version", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub valid_from: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub remote: bool,
    pub successor_code: Option<String>,
    pub reorganisation_id: String,
});
