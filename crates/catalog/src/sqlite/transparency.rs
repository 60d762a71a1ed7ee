//! The SQLite backend's checkpoint mirror and transparency log (`0006_transparency.sql`).

use async_trait::async_trait;
use model::RecordingId;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::SqliteCatalog;
use crate::error::CatalogError;
use crate::sqlite_read as read;
use crate::time::{from_millis, to_millis};
use crate::transparency::{
    CheckpointRecord, Leaf, LogPosition, NewLeaf, TransparencyStore, check_append, check_leaf_limit,
};

fn corrupt(column: &'static str, reason: impl Into<String>) -> CatalogError {
    CatalogError::Corrupt {
        column,
        reason: reason.into(),
    }
}

fn signed(column: &'static str, value: u64) -> Result<i64, CatalogError> {
    i64::try_from(value).map_err(|_| CatalogError::Invalid(format!("{column} is too large")))
}

fn checkpoint_from_row(row: &SqliteRow) -> Result<CheckpointRecord, CatalogError> {
    let public_key: Vec<u8> = row.try_get("public_key")?;
    let signature: Vec<u8> = row.try_get("signature")?;
    Ok(CheckpointRecord {
        seq: read::unsigned("audit_checkpoints.seq", row.try_get("seq")?)?,
        hash: read::digest("audit_checkpoints.hash", row.try_get("hash")?)?,
        at: from_millis("audit_checkpoints.at", row.try_get("at")?)?,
        public_key: public_key
            .try_into()
            .map_err(|_| corrupt("audit_checkpoints.public_key", "not 32 bytes"))?,
        signature: signature
            .try_into()
            .map_err(|_| corrupt("audit_checkpoints.signature", "not 64 bytes"))?,
    })
}

fn leaf_from_row(row: &SqliteRow) -> Result<Leaf, CatalogError> {
    let recording: String = row.try_get("recording_id")?;
    Ok(Leaf {
        index: read::unsigned("transparency_leaves.idx", row.try_get("idx")?)?,
        audit_seq: read::unsigned("transparency_leaves.audit_seq", row.try_get("audit_seq")?)?,
        recording: recording
            .parse()
            .map_err(|_| corrupt("transparency_leaves.recording_id", "not a recording id"))?,
        tenant: read::tenant_id("transparency_leaves.tenant_id", row.try_get("tenant_id")?)?,
        event: row.try_get("event")?,
        manifest: row.try_get("manifest")?,
    })
}

async fn position(connection: &mut SqliteConnection) -> Result<LogPosition, CatalogError> {
    let processed: i64 =
        sqlx::query_scalar("SELECT processed_seq FROM transparency_cursor WHERE id = 1")
            .fetch_optional(&mut *connection)
            .await?
            .ok_or_else(|| corrupt("transparency_cursor", "row missing"))?;
    let size: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transparency_leaves")
        .fetch_one(&mut *connection)
        .await?;
    Ok(LogPosition {
        processed_seq: read::unsigned("transparency_cursor.processed_seq", processed)?,
        size: read::unsigned("transparency_leaves", size)?,
    })
}

#[async_trait]
impl TransparencyStore for SqliteCatalog {
    async fn mirror_checkpoint(&self, checkpoint: &CheckpointRecord) -> Result<(), CatalogError> {
        let checkpoint = checkpoint.checked();
        let mut write = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, at, public_key, signature) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq, at) DO NOTHING",
        )
        .bind(signed("checkpoint seq", checkpoint.seq)?)
        .bind(checkpoint.hash.as_slice())
        .bind(to_millis(&checkpoint.at))
        .bind(checkpoint.public_key.as_slice())
        .bind(checkpoint.signature.as_slice())
        .execute(&mut *write.transaction)
        .await?;
        write.transaction.commit().await?;
        Ok(())
    }

    async fn mirrored_checkpoints(&self) -> Result<Vec<CheckpointRecord>, CatalogError> {
        let mut connection = self.pool.acquire().await?;
        sqlx::query(
            "SELECT seq, hash, at, public_key, signature FROM audit_checkpoints ORDER BY seq, at",
        )
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(checkpoint_from_row)
        .collect()
    }

    async fn log_position(&self) -> Result<LogPosition, CatalogError> {
        let mut connection = self.pool.acquire().await?;
        position(&mut connection).await
    }

    async fn append_leaves(
        &self,
        expected: &LogPosition,
        processed_seq: u64,
        leaves: &[NewLeaf],
    ) -> Result<LogPosition, CatalogError> {
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let current = position(&mut *connection).await?;
        check_append(&current, expected, processed_seq, leaves)?;
        for (offset, leaf) in leaves.iter().enumerate() {
            sqlx::query(
                "INSERT INTO transparency_leaves \
                 (idx, audit_seq, recording_id, tenant_id, event, manifest) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(signed("leaf index", current.size + offset as u64)?)
            .bind(signed("leaf audit seq", leaf.audit_seq)?)
            .bind(leaf.recording.to_string())
            .bind(leaf.tenant.as_str())
            .bind(&leaf.event)
            .bind(&leaf.manifest)
            .execute(&mut *connection)
            .await?;
        }
        sqlx::query("UPDATE transparency_cursor SET processed_seq = $1 WHERE id = 1")
            .bind(signed("processed seq", processed_seq)?)
            .execute(&mut *connection)
            .await?;
        write.transaction.commit().await?;
        Ok(LogPosition {
            processed_seq,
            size: current.size + leaves.len() as u64,
        })
    }

    async fn leaves(&self, from: u64, limit: u32) -> Result<Vec<Leaf>, CatalogError> {
        check_leaf_limit(limit)?;
        let mut connection = self.pool.acquire().await?;
        sqlx::query(
            "SELECT idx, audit_seq, recording_id, tenant_id, event, manifest \
             FROM transparency_leaves WHERE idx >= $1 ORDER BY idx LIMIT $2",
        )
        .bind(signed("leaf index", from)?)
        .bind(i64::from(limit))
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(leaf_from_row)
        .collect()
    }

    async fn leaves_for_recording(&self, id: &RecordingId) -> Result<Vec<Leaf>, CatalogError> {
        let mut connection = self.pool.acquire().await?;
        sqlx::query(
            "SELECT idx, audit_seq, recording_id, tenant_id, event, manifest \
             FROM transparency_leaves WHERE recording_id = $1 ORDER BY idx",
        )
        .bind(id.to_string())
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(leaf_from_row)
        .collect()
    }
}
