//! The reads an apply makes of the records a batch replaces (`records::find_by_ids`) go
//! through the primary key on PostgreSQL whatever the table held when the statement was
//! planned. The driver keeps each statement prepared and PostgreSQL keeps a generic plan made
//! once: `"id" IN (SELECT json_array_elements_text($1))` planned on a new node's empty table
//! was a sequential scan, then read the whole table for every batch while it grew.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::server::Store;
use crate::support::server::by_ids_sql;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tiepdan_tests::{Backend, TestDb};

/// The plan PostgreSQL keeps for the read of `table`'s records by id, made as a generic plan
/// (what a prepared statement ends up with) on the table as it is now.
async fn generic_plan(store: &Store, table: &str, name: &str) -> String {
    let tx = store.begin_write().await.unwrap();
    tx.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
        .await
        .unwrap();
    tx.execute_unprepared(&format!(
        "PREPARE {name}(text) AS {}",
        by_ids_sql(DbBackend::Postgres, table)
    ))
    .await
    .unwrap();
    let rows = tx
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(r#"EXPLAIN EXECUTE {name}('["a", "b", "c"]')"#),
        ))
        .await
        .unwrap();
    tx.execute_unprepared(&format!("DEALLOCATE {name}"))
        .await
        .unwrap();
    drop(tx);
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn record_reads_use_the_key_whatever_the_table_held_when_planned() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = Store::open(&db.url).await.unwrap();
    use crate::support::server::{case, conclusion, petition, schedule_entry, visit};
    use sea_orm::EntityName;
    for table in [
        visit::Entity.table_name(),
        petition::Entity.table_name(),
        case::Entity.table_name(),
        schedule_entry::Entity.table_name(),
        conclusion::Entity.table_name(),
    ] {
        // Planned on the new node's empty tables.
        let plan = generic_plan(&store, table, &format!("empty_{table}")).await;
        assert!(
            !plan.contains("Seq Scan") && plan.contains("Index Scan"),
            "{table} read by id, planned on an empty table:\n{plan}"
        );
    }
    // And on a table that grew without being analyzed.
    store
        .reader()
        .execute_unprepared(
            "INSERT INTO visit (id, unit_code, visit_us, kind, receiver_role, receiver_name, \
             persons, crowd_group, matter, action, summary, schedule_entry_id, create_us) \
             SELECT 'v' || g, 'u', g, 'regular', 'r', 'n', 1, false, 'm', 'a', 's', NULL, g \
             FROM generate_series(1, 20000) AS g",
        )
        .await
        .unwrap();
    let plan = generic_plan(&store, "visit", "grown_visit").await;
    assert!(
        !plan.contains("Seq Scan") && plan.contains("Index Scan"),
        "visit read by id, planned on 20,000 rows not analyzed:\n{plan}"
    );
    drop(store);
}
