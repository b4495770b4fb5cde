//! Schema migrations. The same migrations run on SQLite and PostgreSQL at every start;
//! tests build their schema from them. A released migration is never edited: a change is a
//! new migration.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

mod m0006_m0007;
mod m0008;
pub use m0006_m0007::{M0006Recovery, M0007OverdueAtPeriodEnd, OVERDUE_REBUILD};
pub use m0008::M0008Reorganisations;

/// All migrations of the node's store, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001Initial),
            Box::new(M0002TierLink),
            Box::new(M0003TallyRollup),
            Box::new(M0004SealingKeys),
            Box::new(M0005PersonalDataAccess),
            Box::new(M0006Recovery),
            Box::new(M0007OverdueAtPeriodEnd),
            Box::new(M0008Reorganisations),
        ]
    }
}

/// The initial schema: record tables, the journal and the request log.
pub struct M0001Initial;

impl MigrationName for M0001Initial {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

fn table(name: &'static str) -> TableCreateStatement {
    Table::create().table(name).if_not_exists().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table("unit")
                .col(string("code").primary_key())
                .col(string("name"))
                .col(string("level"))
                .col(string_null("parent_code"))
                .col(boolean("remote"))
                .col(boolean("is_self"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            table("visit")
                .col(string("id").primary_key())
                .col(string("unit_code"))
                .col(big_integer("visit_us"))
                .col(string("kind"))
                .col(string("receiver_role"))
                .col(string("receiver_name"))
                .col(big_integer("persons"))
                .col(boolean("crowd_group"))
                .col(string("matter"))
                .col(string("action"))
                .col(text("summary"))
                .col(string_null("schedule_entry_id"))
                .col(big_integer("create_us"))
                .to_owned(),
        )
        .await?;
        index(m, "visit", "ix_visit_time", &["visit_us", "id"]).await?;
        m.create_table(
            table("schedule_entry")
                .col(string("id").primary_key())
                .col(string("unit_code"))
                .col(string("receiver_role"))
                .col(string("receiver_name"))
                .col(big_integer("start_us"))
                .col(big_integer("end_us"))
                .col(string("location"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "schedule_entry",
            "ix_schedule_start",
            &["start_us", "id"],
        )
        .await?;
        m.create_table(
            table("conclusion")
                .col(string("id").primary_key())
                .col(string("unit_code"))
                .col(string("visit_id"))
                .col(text("text"))
                .col(string("assignee"))
                .col(big_integer("conclusion_us"))
                .col(string("status"))
                .col(text("progress_note"))
                .col(big_integer_null("done_us"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            table("petition")
                .col(string("id").primary_key())
                .col(string("unit_code"))
                .col(big_integer("received_us"))
                .col(string("channel"))
                .col(text("summary"))
                .col(string("status"))
                .col(boolean("anonymous"))
                .col(big_integer("signers"))
                .col(string_null("visit_id"))
                .col(string_null("petition_type"))
                .col(string_null("field"))
                .col(big_integer("complaint_round"))
                .col(string_null("eligibility"))
                .col(string_null("jurisdiction"))
                .col(boolean("has_evidence"))
                .col(string_null("case_id"))
                .col(string_null("transferred_to_unit"))
                .col(string_null("outside_body"))
                .col(string_null("file_reason"))
                .col(text("note"))
                .col(date("due_date"))
                .col(big_integer_null("processed_us"))
                .col(big_integer("version"))
                .col(big_integer("update_us"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "petition",
            "ix_petition_received",
            &["received_us", "id"],
        )
        .await?;
        index(m, "petition", "ix_petition_due", &["status", "due_date"]).await?;
        index(m, "petition", "ix_petition_case", &["case_id"]).await?;
        m.create_table(
            table("petitioner")
                .col(string("petition_id").primary_key())
                .col(string("full_name"))
                .col(string("address"))
                .col(string("id_number"))
                .col(string("phone"))
                .col(string("email"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            table("case_record")
                .col(string("id").primary_key())
                .col(string("owner_unit"))
                .col(string("case_type"))
                .col(string("field"))
                .col(big_integer("complaint_round"))
                .col(boolean("complex"))
                .col(big_integer("extensions"))
                .col(string("status"))
                .col(big_integer("accept_us"))
                .col(date("due_date"))
                .col(string_null("outcome"))
                .col(string("decision_number"))
                .col(big_integer_null("decision_us"))
                .col(big_integer("money_to_recover_vnd"))
                .col(double("land_to_recover_m2"))
                .col(big_integer_null("effective_us"))
                .col(big_integer("money_recovered_vnd"))
                .col(double("land_recovered_m2"))
                .col(big_integer_null("enforced_us"))
                .col(big_integer("version"))
                .col(big_integer("update_us"))
                .to_owned(),
        )
        .await?;
        index(m, "case_record", "ix_case_accept", &["accept_us", "id"]).await?;
        index(m, "case_record", "ix_case_due", &["status", "due_date"]).await?;
        m.create_table(
            table("journal_event")
                .col(string("origin_unit"))
                .col(big_integer("sequence"))
                .col(big_integer("event_us"))
                .col(string("action"))
                .col(blob("payload"))
                .col(blob("hash"))
                .primary_key(Index::create().col("origin_unit").col("sequence"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            table("journal_head")
                .col(string("origin_unit").primary_key())
                .col(big_integer("last_sequence"))
                .col(blob("last_hash"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            table("request_log")
                .col(string("request_id").primary_key())
                .col(string("method"))
                .col(blob("fingerprint"))
                .col(text("result"))
                .col(big_integer("create_us"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            table("counter")
                .col(string("name").primary_key())
                .col(big_integer("value"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "counter",
            "request_log",
            "journal_head",
            "journal_event",
            "case_record",
            "petitioner",
            "petition",
            "conclusion",
            "schedule_entry",
            "visit",
            "unit",
        ] {
            m.drop_table(Table::drop().table(name).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn index(
    m: &SchemaManager<'_>,
    table: &'static str,
    name: &'static str,
    columns: &[&'static str],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for column in columns {
        index.col(*column);
    }
    m.create_index(index.to_owned()).await
}

/// The tier link: transfer and result links on petitions, maintained totals, mail.
pub struct M0002TierLink;

impl MigrationName for M0002TierLink {
    fn name(&self) -> &str {
        "m0002_tier_link"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002TierLink {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite cannot add several in one ALTER TABLE.
        for column in [
            string_null("source_petition_id"),
            string_null("source_unit"),
            string_null("result_case_id"),
            string_null("result_outcome"),
            big_integer_null("result_us"),
        ] {
            m.alter_table(
                Table::alter()
                    .table("petition")
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        index(m, "petition", "ix_petition_source", &["source_petition_id"]).await?;
        m.create_table(
            table("tally")
                .col(boolean("subtree"))
                .col(string("unit_code"))
                .col(date("day"))
                .col(string("metric"))
                .col(big_integer("value"))
                .primary_key(
                    Index::create()
                        .col("subtree")
                        .col("unit_code")
                        .col("day")
                        .col("metric"),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            table("mail_outbox")
                .col(string("id").primary_key())
                .col(string("destination_unit"))
                .col(blob("payload"))
                .col(big_integer("create_us"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            table("mail_seen")
                .col(string("id").primary_key())
                .col(big_integer("create_us"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["mail_seen", "mail_outbox", "tally"] {
            m.drop_table(Table::drop().table(name).if_exists().to_owned())
                .await?;
        }
        for column in [
            "result_us",
            "result_outcome",
            "result_case_id",
            "source_unit",
            "source_petition_id",
        ] {
            m.alter_table(
                Table::alter()
                    .table("petition")
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

/// Rollups of the maintained totals over half-months and both kinds of year
/// (`domain::span`), filled from the day rows already stored.
pub struct M0003TallyRollup;

impl MigrationName for M0003TallyRollup {
    fn name(&self) -> &str {
        "m0003_tally_rollup"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003TallyRollup {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table("tally_rollup")
                .col(boolean("subtree"))
                .col(string("unit_code"))
                .col(string("span"))
                .col(date("day"))
                .col(string("metric"))
                .col(big_integer("value"))
                .primary_key(
                    Index::create()
                        .col("subtree")
                        .col("unit_code")
                        .col("span")
                        .col("day")
                        .col("metric"),
                )
                .to_owned(),
        )
        .await?;
        fill_rollups(m.get_connection()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("tally_rollup").if_exists().to_owned())
            .await
    }
}

/// Fills the rollups from the day rows, one unit and scope at a time (a unit's day rows are
/// a range of the primary key, and bounded by its days × metrics). Starts from an empty table
/// so that a fill interrupted on SQLite (no transactional DDL there) is simply redone; run
/// inside a write transaction, it also repairs rollups that went astray.
pub async fn fill_rollups(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    use chrono::NaiveDate;
    db.execute(&Query::delete().from_table("tally_rollup").to_owned())
        .await?;
    let scopes = db
        .query_all(
            &Query::select()
                .distinct()
                .columns(["subtree", "unit_code"])
                .from("tally")
                .to_owned(),
        )
        .await?;
    for scope in scopes {
        let subtree: bool = scope.try_get_by_index(0)?;
        let unit: String = scope.try_get_by_index(1)?;
        let rows = db
            .query_all(
                &Query::select()
                    .columns(["day", "metric", "value"])
                    .from("tally")
                    .and_where(Expr::col("subtree").eq(subtree))
                    .and_where(Expr::col("unit_code").eq(unit.as_str()))
                    .to_owned(),
            )
            .await?;
        let mut days = std::collections::BTreeMap::new();
        for row in rows {
            let day: NaiveDate = row.try_get_by_index(0)?;
            let metric: String = row.try_get_by_index(1)?;
            let value: i64 = row.try_get_by_index(2)?;
            days.insert((subtree, unit.clone(), day, metric), value);
        }
        let rollups = crate::domain::tally::rollups_of(&days);
        crate::storage::records::add_to_rollups(db, rollups).await?;
    }
    Ok(())
}

/// Sealing keys: each node's X25519 key pair (the secret only for itself) and the public
/// keys of the units it learnt over its links, so a transfer's personal details can be
/// sealed to the destination and read by no node on the way.
pub struct M0004SealingKeys;

impl MigrationName for M0004SealingKeys {
    fn name(&self) -> &str {
        "m0004_sealing_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0004SealingKeys {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table("unit_key")
                .col(string("unit_code").primary_key())
                .col(blob("public_key"))
                .col(blob_null("secret_key"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("unit_key").if_exists().to_owned())
            .await
    }
}

/// The personal-data audit trail: who read a petitioner's details, when, of which petition
/// and why. Append-only: the database itself refuses to change or delete a row.
pub struct M0005PersonalDataAccess;

impl MigrationName for M0005PersonalDataAccess {
    fn name(&self) -> &str {
        "m0005_personal_data_access"
    }
}

/// Statements that make `personal_data_access` refuse UPDATE and DELETE, per backend.
fn append_only(backend: sea_orm::DbBackend) -> &'static [&'static str] {
    match backend {
        sea_orm::DbBackend::Postgres => &[
            "CREATE OR REPLACE FUNCTION personal_data_access_append_only() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
             RAISE EXCEPTION 'personal_data_access is append-only'; END $$",
            "CREATE TRIGGER personal_data_access_append_only \
             BEFORE UPDATE OR DELETE ON personal_data_access \
             FOR EACH ROW EXECUTE FUNCTION personal_data_access_append_only()",
        ],
        _ => &[
            "CREATE TRIGGER IF NOT EXISTS personal_data_access_no_update \
             BEFORE UPDATE ON personal_data_access \
             BEGIN SELECT RAISE(ABORT, 'personal_data_access is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS personal_data_access_no_delete \
             BEFORE DELETE ON personal_data_access \
             BEGIN SELECT RAISE(ABORT, 'personal_data_access is append-only'); END",
        ],
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0005PersonalDataAccess {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table("personal_data_access")
                .col(big_pk_auto("id"))
                .col(big_integer("at_us"))
                .col(string("subject"))
                .col(string("role"))
                .col(string("petition_id"))
                .col(string("action"))
                .col(string("reason"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "personal_data_access",
            "personal_data_access_petition",
            &["petition_id", "id"],
        )
        .await?;
        let db = m.get_connection();
        for statement in append_only(db.get_database_backend()) {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table("personal_data_access")
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
