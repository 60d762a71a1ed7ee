//! Tampering with the stored audit chain, row by row with raw SQL, is reported at the first
//! bad entry. Each case edits one thing, verifies, and restores the row.
#![allow(clippy::expect_used)] // a test fails by panicking

use onrecord_catalog::conformance::{base_time, register, sample_recording};
use onrecord_catalog::{AuditBreak, BreakReason, Catalog, NewAuditEntry, SqliteCatalog};
use serde_json::json;
use sqlx::{AssertSqlSafe, SqlitePool};
use tempfile::TempDir;

/// Entries in the chain under test.
const ENTRIES: i64 = 6;

async fn chain() -> (SqliteCatalog, TempDir) {
    let directory = tempfile::tempdir().expect("temp dir");
    let catalog = SqliteCatalog::open(directory.path().join("catalog.db"))
        .await
        .expect("open");
    register(&catalog, "acme").await;
    let recordings: Vec<_> = (0..2)
        .map(|index| sample_recording("acme", index))
        .collect();
    catalog
        .commit_recordings(&recordings)
        .await
        .expect("commit");
    let shown = |seconds| NewAuditEntry {
        at: base_time() + chrono::Duration::seconds(seconds),
        actor: "token:7f3a".into(),
        action: "recording.shown".into(),
        tenant: Some(recordings[0].tenant.clone()),
        recording: Some(recordings[0].id),
        details: json!({ "via": "api", "range": "bytes=0-" }),
    };
    catalog
        .append_audit(&[shown(1), shown(2), shown(3)])
        .await
        .expect("append");
    let summary = verify(&catalog).await.expect("untouched chain verifies");
    assert_eq!(summary.entries, ENTRIES as u64);
    (catalog, directory)
}

async fn verify(catalog: &SqliteCatalog) -> Result<onrecord_catalog::AuditSummary, AuditBreak> {
    catalog.verify_audit().await.expect("chain readable")
}

/// A stored value of any SQLite storage class.
#[derive(Debug, Clone, PartialEq)]
enum Stored {
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

const COLUMNS: [&str; 9] = [
    "seq",
    "at",
    "actor",
    "action",
    "tenant_id",
    "recording_id",
    "details",
    "prev_hash",
    "hash",
];

async fn read(pool: &SqlitePool, seq: i64, column: &str) -> Stored {
    let kind_sql = format!("SELECT typeof({column}) FROM audit_log WHERE seq = $1");
    let (kind,): (String,) = sqlx::query_as(AssertSqlSafe(kind_sql))
        .bind(seq)
        .fetch_one(pool)
        .await
        .expect("read type");
    let value_sql = format!("SELECT {column} FROM audit_log WHERE seq = $1");
    match kind.as_str() {
        "integer" => {
            let (value,): (i64,) = sqlx::query_as(AssertSqlSafe(value_sql))
                .bind(seq)
                .fetch_one(pool)
                .await
                .expect("read integer");
            Stored::Integer(value)
        }
        "text" => {
            let (value,): (String,) = sqlx::query_as(AssertSqlSafe(value_sql))
                .bind(seq)
                .fetch_one(pool)
                .await
                .expect("read text");
            Stored::Text(value)
        }
        "blob" => {
            let (value,): (Vec<u8>,) = sqlx::query_as(AssertSqlSafe(value_sql))
                .bind(seq)
                .fetch_one(pool)
                .await
                .expect("read blob");
            Stored::Blob(value)
        }
        "null" => Stored::Null,
        other => panic!("unexpected storage class {other}"),
    }
}

async fn write(pool: &SqlitePool, seq: i64, column: &str, value: &Stored) {
    let sql = AssertSqlSafe(format!("UPDATE audit_log SET {column} = $1 WHERE seq = $2"));
    let query = sqlx::query(sql);
    let query = match value {
        Stored::Integer(value) => query.bind(*value),
        Stored::Text(value) => query.bind(value.clone()),
        Stored::Blob(value) => query.bind(value.clone()),
        Stored::Null => query.bind(Option::<String>::None),
    };
    let done = query.bind(seq).execute(pool).await.expect("update");
    assert_eq!(done.rows_affected(), 1, "{column} of entry {seq} updated");
}

/// Every one-byte change of `value`: each byte of a text or blob with its low bit flipped, each
/// byte of an integer's 8-byte form with its high bit flipped.
fn one_byte_changes(value: &Stored) -> Vec<Stored> {
    match value {
        Stored::Integer(value) => (0..8)
            .map(|byte| Stored::Integer(value ^ (0x80_i64 << (8 * byte))))
            .collect(),
        Stored::Text(text) => (0..text.len())
            .map(|index| {
                let mut bytes = text.clone().into_bytes();
                bytes[index] ^= 0x01;
                Stored::Text(String::from_utf8(bytes).expect("ASCII stays ASCII"))
            })
            .collect(),
        Stored::Blob(bytes) => (0..bytes.len())
            .map(|index| {
                let mut bytes = bytes.clone();
                bytes[index] ^= 0x01;
                Stored::Blob(bytes)
            })
            .collect(),
        Stored::Null => vec![Stored::Text(String::new())],
    }
}

#[tokio::test]
async fn changing_any_byte_of_any_field_of_any_entry_is_reported_at_that_entry() {
    let (catalog, _directory) = chain().await;
    let pool = catalog.pool();
    let mut cases = 0;
    for seq in 1..=ENTRIES {
        for column in COLUMNS {
            let original = read(pool, seq, column).await;
            for changed in one_byte_changes(&original) {
                let negative_seq =
                    matches!(changed, Stored::Integer(value) if column == "seq" && value < 0);
                write(pool, seq, column, &changed).await;
                // A changed seq moves the row; it is found again by its new seq to restore it.
                let tampered_at = match (&changed, column) {
                    (Stored::Integer(value), "seq") => *value,
                    _ => seq,
                };
                let outcome = verify(&catalog).await;
                let broken = outcome.expect_err(&format!(
                    "{column} of entry {seq} changed to {changed:?} still verifies"
                ));
                if negative_seq {
                    // A negative seq sorts first: the chain breaks at position 1, at that row.
                    assert_eq!(
                        broken,
                        AuditBreak {
                            seq: 1,
                            reason: BreakReason::OutOfOrder {
                                stored: tampered_at
                            }
                        }
                    );
                } else {
                    assert_eq!(broken.seq, seq as u64, "{column} of entry {seq}: {broken}");
                }
                write(pool, tampered_at, column, &original).await;
                cases += 1;
            }
        }
        assert!(verify(&catalog).await.is_ok(), "restored chain verifies");
    }
    // At least every byte of the two integers and the two hashes of every entry.
    let floor = ENTRIES as usize * (2 * 8 + 2 * 32);
    assert!(cases >= floor, "only {cases} changes tried");
}

#[tokio::test]
async fn absent_optional_field_and_foreign_storage_class_are_reported() {
    let (catalog, _directory) = chain().await;
    let pool = catalog.pool();
    for column in ["tenant_id", "recording_id"] {
        let original = read(pool, 4, column).await;
        write(pool, 4, column, &Stored::Null).await;
        let broken = verify(&catalog)
            .await
            .expect_err("dropped optional field detected");
        assert_eq!((broken.seq, broken.reason), (4, BreakReason::HashMismatch));
        write(pool, 4, column, &original).await;
    }
    // Invalid UTF-8 stored where text belongs cannot be read: a break at that entry.
    write(pool, 3, "actor", &Stored::Blob(vec![0xff, 0xfe])).await;
    let broken = verify(&catalog)
        .await
        .expect_err("unreadable field detected");
    assert_eq!(broken.seq, 3);
    assert!(matches!(
        broken.reason,
        BreakReason::Unreadable { .. } | BreakReason::HashMismatch
    ));
}

#[tokio::test]
async fn deleting_any_entry_but_the_last_is_reported_as_missing() {
    for seq in 1..ENTRIES {
        let (catalog, _directory) = chain().await;
        sqlx::query("DELETE FROM audit_log WHERE seq = $1")
            .bind(seq)
            .execute(catalog.pool())
            .await
            .expect("delete");
        let broken = verify(&catalog).await.expect_err("deletion detected");
        assert_eq!(
            broken,
            AuditBreak {
                seq: seq as u64,
                reason: BreakReason::Missing {
                    next_stored: seq + 1
                }
            }
        );
    }
}

#[tokio::test]
async fn deleting_the_last_entry_is_not_detected_without_checkpoints() {
    let (catalog, _directory) = chain().await;
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(ENTRIES)
        .execute(catalog.pool())
        .await
        .expect("delete");
    let summary = verify(&catalog)
        .await
        .expect("a truncated chain still verifies");
    assert_eq!(summary.entries, ENTRIES as u64 - 1);
}

#[tokio::test]
async fn swapping_two_adjacent_entries_is_reported_at_the_first_of_them() {
    for seq in 1..ENTRIES {
        let (catalog, _directory) = chain().await;
        for (from, to) in [(seq, -1), (seq + 1, seq), (-1, seq + 1)] {
            sqlx::query("UPDATE audit_log SET seq = $1 WHERE seq = $2")
                .bind(to)
                .bind(from)
                .execute(catalog.pool())
                .await
                .expect("renumber");
        }
        let broken = verify(&catalog).await.expect_err("swap detected");
        assert_eq!(broken.seq, seq as u64, "swap of {seq} and {}", seq + 1);
    }
}

#[tokio::test]
async fn swapping_entry_contents_but_keeping_seqs_is_reported() {
    let (catalog, _directory) = chain().await;
    // Exchange every field but seq between entries 2 and 5.
    for column in COLUMNS.iter().skip(1) {
        let two = read(catalog.pool(), 2, column).await;
        let five = read(catalog.pool(), 5, column).await;
        write(catalog.pool(), 2, column, &five).await;
        write(catalog.pool(), 5, column, &two).await;
    }
    let broken = verify(&catalog).await.expect_err("exchange detected");
    assert_eq!(broken.seq, 2);
}

#[tokio::test]
async fn appending_a_forged_row_without_its_hash_is_reported() {
    let (catalog, _directory) = chain().await;
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, tenant_id, recording_id, details, \
         prev_hash, hash) SELECT seq + 1, at, actor, 'recording.exported', tenant_id, \
         recording_id, details, hash, hash FROM audit_log WHERE seq = $1",
    )
    .bind(ENTRIES)
    .execute(catalog.pool())
    .await
    .expect("forge");
    let broken = verify(&catalog).await.expect_err("forgery detected");
    assert_eq!(
        broken,
        AuditBreak {
            seq: ENTRIES as u64 + 1,
            reason: BreakReason::HashMismatch
        }
    );
}
