//! Reorganisations and the unit versions they make (m0008).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::table;

/// Every reorganisation this node knows, as journaled, and each reorganised unit's versions.
pub struct M0008Reorganisations;

impl MigrationName for M0008Reorganisations {
    fn name(&self) -> &str {
        "m0008_reorganisations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0008Reorganisations {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table("reorganisation")
                .col(string("authority_code"))
                .col(string("id"))
                .col(string("effective_date"))
                .col(blob("payload"))
                .primary_key(Index::create().col("authority_code").col("id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            table("unit_version")
                .col(string("code"))
                // "" for the version from before any reorganisation: a key column has a value.
                .col(string("valid_from"))
                .col(string("name"))
                .col(string("level"))
                .col(string_null("parent_code"))
                .col(boolean("remote"))
                .col(string_null("successor_code"))
                .col(string("reorganisation_id"))
                .primary_key(Index::create().col("code").col("valid_from"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["unit_version", "reorganisation"] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
