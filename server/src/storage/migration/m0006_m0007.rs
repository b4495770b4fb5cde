//! The recovery mark (m0006) and the point-in-time overdue count (m0007).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::table;

/// The mark of a database that must take back from its parent the events it lost (restored
/// from an older copy, or rebuilt empty), and what the last recovery found. One row at most.
pub struct M0006Recovery;

impl MigrationName for M0006Recovery {
    fn name(&self) -> &str {
        "m0006_recovery"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0006Recovery {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table("recovery")
                .col(integer("id").primary_key())
                .col(string("reason"))
                .col(big_integer("start_us"))
                .col(big_integer_null("finish_us"))
                .col(big_integer("events"))
                .col(text("petitions_without_details"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("recovery").if_exists().to_owned())
            .await
    }
}

/// The overdue count becomes a point-in-time figure (`case.overdue.*`: +1 the day after the
/// due date, −1 the day a case is closed late) instead of open cases by due day
/// (`case.open_due.*`): the old rows go, and the new ones are counted from the cases at the
/// next start (`OVERDUE_REBUILD`), which needs the unit tree the migration does not have.
pub struct M0007OverdueAtPeriodEnd;

/// Counter whose presence asks the next start to count `case.overdue.*` from the cases.
pub const OVERDUE_REBUILD: &str = "rebuild.case.overdue";

impl MigrationName for M0007OverdueAtPeriodEnd {
    fn name(&self) -> &str {
        "m0007_overdue_at_period_end"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0007OverdueAtPeriodEnd {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for table in ["tally", "tally_rollup"] {
            db.execute(
                &Query::delete()
                    .from_table(table)
                    .and_where(Expr::col("metric").like("case.open_due.%"))
                    .to_owned(),
            )
            .await?;
        }
        let mut marker = Query::insert();
        marker.into_table("counter").columns(["name", "value"]);
        marker
            .values([OVERDUE_REBUILD.into(), 1i64.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        db.execute(&marker).await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
