//! The SQLite backend: a file (or `:memory:`), WAL, `synchronous=FULL`, foreign keys on, a
//! small pool, schema from `migrations/sqlite`.
//!
//! Why `synchronous=FULL`: in WAL mode `NORMAL` skips the fsync at commit, so a power cut can
//! roll back the last committed transactions. For the catalog that would mean an import
//! reported as accepted, or audit entries already handed to a reader (or signed into a
//! checkpoint), silently vanishing; a lost audit tail is indistinguishable from truncation.
//! `FULL` syncs the WAL on each commit, and because recordings are committed in batches
//! (group commit, hundreds per transaction) the fsync rate stays independent of the call rate.
//!
//! How writes are serialized: every write transaction holds `write_gate` (an async mutex, so
//! writers queue in this process instead of spinning on `SQLITE_BUSY`) and starts with
//! `BEGIN IMMEDIATE` (so the write lock is taken before the chain head is read, which also
//! keeps a second process that opens the same file from forking the chain). The audit chain
//! needs exactly this: reading the previous hash and appending after it is one atomic step.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqliteConnection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::audit::{
    AuditBreak, AuditEntry, AuditNote, AuditSummary, GENESIS_HASH, NewAuditEntry,
    PreparedAuditEntry,
};
use crate::error::{CatalogError, Conflict};
use crate::sqlite_read as read;
use crate::time::{to_millis, truncate_millis};
use crate::types::{
    CheckedRecording, CommitOutcome, MAX_BATCH, NewRecording, NewRefusal, Page, PageRequest,
    RecordingDetail, RecordingFilter, RecordingState, RefusalSubject, Sha256Digest, Tenant,
};
use crate::{Catalog, check_audit_limit};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The SQLite catalog. Cheap to clone (a pool and a lock).
#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    pool: SqlitePool,
    write_gate: Arc<Mutex<()>>,
}

/// A write transaction and the gate that makes it the only one.
struct Write {
    transaction: Transaction<'static, Sqlite>,
    _gate: OwnedMutexGuard<()>,
}

impl SqliteCatalog {
    /// Open (creating if missing) the catalog file at `path` and bring its schema up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteCatalog, CatalogError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        SqliteCatalog::with_pool(pool).await
    }

    /// A private in-memory catalog (tests, demos). One connection, held for the catalog's
    /// lifetime: an in-memory database lives only as long as its connection.
    pub async fn open_in_memory() -> Result<SqliteCatalog, CatalogError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        SqliteCatalog::with_pool(pool).await
    }

    async fn with_pool(pool: SqlitePool) -> Result<SqliteCatalog, CatalogError> {
        MIGRATOR.run(&pool).await?;
        Ok(SqliteCatalog {
            pool,
            write_gate: Arc::new(Mutex::new(())),
        })
    }

    /// The connection pool, for tools and tests that inspect or edit rows directly (the
    /// audit tamper tests do). Writing through it bypasses every rule of the catalog.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Write, CatalogError> {
        let gate = Arc::clone(&self.write_gate).lock_owned().await;
        let transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Write {
            transaction,
            _gate: gate,
        })
    }
}

/// The last `(seq, hash)` of the chain, read inside the write transaction.
async fn audit_head(connection: &mut SqliteConnection) -> Result<(u64, [u8; 32]), CatalogError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *connection)
        .await?;
    let Some(row) = row else {
        return Ok((0, GENESIS_HASH));
    };
    let seq = read::unsigned("audit.seq", row.try_get("seq")?)?;
    let hash = read::digest("audit.hash", row.try_get("hash")?)?;
    Ok((seq, hash))
}

/// Chains entries after `head`, inserts them, and returns them with the new head.
async fn append_entries(
    connection: &mut SqliteConnection,
    head: &mut (u64, [u8; 32]),
    prepared: Vec<PreparedAuditEntry>,
) -> Result<Vec<AuditEntry>, CatalogError> {
    let mut entries = Vec::with_capacity(prepared.len());
    for entry in prepared {
        let stored = entry.chain(head.0, head.1);
        sqlx::query(
            "INSERT INTO audit_log \
             (seq, at, actor, action, tenant_id, recording_id, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(stored.seq)
        .bind(stored.at_millis)
        .bind(&stored.actor)
        .bind(&stored.action)
        .bind(&stored.tenant)
        .bind(&stored.recording)
        .bind(&stored.details)
        .bind(&stored.prev_hash)
        .bind(&stored.hash)
        .execute(&mut *connection)
        .await?;
        *head = stored.head()?;
        entries.push(stored.to_entry()?);
    }
    Ok(entries)
}

fn one(mut entries: Vec<AuditEntry>) -> Result<AuditEntry, CatalogError> {
    entries.pop().ok_or_else(|| CatalogError::Corrupt {
        column: "audit",
        reason: "append returned no entry".into(),
    })
}

fn as_i64(value: u64) -> i64 {
    // Every stored u64 was bounded to i64 by the input checks.
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Insert one checked recording and everything that belongs to it.
async fn insert_recording(
    connection: &mut SqliteConnection,
    item: &CheckedRecording,
) -> Result<(), CatalogError> {
    let recording = &item.recording;
    let id = recording.id.to_string();
    sqlx::query(
        "INSERT INTO recordings (id, tenant_id, source, external_id, started_at, duration_ms, \
         direction, content_hash, state, details, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(recording.tenant.as_str())
    .bind(recording.source.as_str())
    .bind(&recording.external_id)
    .bind(to_millis(&recording.started_at))
    .bind(as_i64(recording.duration_ms))
    .bind(recording.direction.as_str())
    .bind(recording.content_hash.as_slice())
    .bind(recording.state.as_str())
    .bind(&item.details_text)
    .bind(to_millis(&recording.created_at))
    .execute(&mut *connection)
    .await?;
    for tag in &recording.tags {
        sqlx::query("INSERT INTO recording_tags (recording_id, tag) VALUES ($1, $2)")
            .bind(&id)
            .bind(tag)
            .execute(&mut *connection)
            .await?;
    }
    for participant in &item.participants {
        sqlx::query(
            "INSERT INTO participants (recording_id, ordinal, address, name, role) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(i64::from(participant.ordinal))
        .bind(participant.address.dangerous_reveal())
        .bind(
            participant
                .name
                .as_ref()
                .map(|name| name.dangerous_reveal()),
        )
        .bind(&participant.role)
        .execute(&mut *connection)
        .await?;
        for (position, evidence) in participant.evidence.iter().enumerate() {
            sqlx::query(
                "INSERT INTO consent_evidence \
                 (recording_id, ordinal, position, kind, at, reference, source) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(i64::from(participant.ordinal))
            .bind(position as i64)
            .bind(evidence.kind.as_str())
            .bind(evidence.at.as_ref().map(to_millis))
            .bind(&evidence.reference)
            .bind(evidence.source.as_str())
            .execute(&mut *connection)
            .await?;
        }
    }
    for stream in &item.streams {
        sqlx::query(
            "INSERT INTO streams (recording_id, label, content_type, codec, duration_ms, \
             plaintext_size, plaintext_sha256, object_key, object_size, object_sha256, region) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&id)
        .bind(stream.label.as_str())
        .bind(&stream.content_type)
        .bind(&stream.codec)
        .bind(as_i64(stream.duration_ms))
        .bind(as_i64(stream.plaintext_size))
        .bind(stream.plaintext_sha256.as_slice())
        .bind(&stream.object_key)
        .bind(as_i64(stream.object_size))
        .bind(stream.object_sha256.as_slice())
        .bind(stream.region.as_str())
        .execute(&mut *connection)
        .await?;
    }
    sqlx::query("INSERT INTO sealed_keys (recording_id, sealed_key) VALUES ($1, $2)")
        .bind(&id)
        .bind(item.sealed_key.as_slice())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn register_tenant(
        &self,
        tenant: &Tenant,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError> {
        let tenant = tenant.normalized()?;
        let prepared =
            PreparedAuditEntry::new(&audit.entry(tenant.created_at, Some(&tenant.id), None))?;
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        if read::tenant(&mut *connection, &tenant.id).await?.is_some() {
            return Err(Conflict::TenantExists(tenant.id).into());
        }
        sqlx::query(
            "INSERT INTO tenants (id, region, consent_policy, purpose, legal_basis, \
             retention_days, public_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant.id.as_str())
        .bind(tenant.region.as_str())
        .bind(tenant.consent_policy.as_str())
        .bind(&tenant.purpose)
        .bind(&tenant.legal_basis)
        .bind(i64::from(tenant.retention_days))
        .bind(&tenant.public_key)
        .bind(to_millis(&tenant.created_at))
        .execute(&mut *connection)
        .await?;
        let mut head = audit_head(&mut *connection).await?;
        let entry = one(append_entries(&mut *connection, &mut head, vec![prepared]).await?)?;
        write.transaction.commit().await?;
        Ok(entry)
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, CatalogError> {
        let mut connection = self.pool.acquire().await?;
        read::tenant(&mut connection, id).await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, CatalogError> {
        let mut connection = self.pool.acquire().await?;
        read::tenants(&mut connection).await
    }

    async fn commit_recordings(
        &self,
        recordings: &[NewRecording],
    ) -> Result<Vec<CommitOutcome>, CatalogError> {
        if recordings.len() > MAX_BATCH {
            return Err(CatalogError::Invalid("batch too large".into()));
        }
        let checked = recordings
            .iter()
            .map(NewRecording::checked)
            .collect::<Result<Vec<_>, _>>()?;
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let mut tenants: std::collections::HashMap<TenantId, Tenant> = Default::default();
        let mut head = audit_head(&mut *connection).await?;
        let mut outcomes = Vec::with_capacity(checked.len());
        for item in &checked {
            let recording = &item.recording;
            if !tenants.contains_key(&recording.tenant) {
                let tenant = read::tenant(&mut *connection, &recording.tenant)
                    .await?
                    .ok_or_else(|| CatalogError::NotFound {
                        what: "tenant",
                        id: recording.tenant.to_string(),
                    })?;
                tenants.insert(recording.tenant.clone(), tenant);
            }
            if let Some(tenant) = tenants.get(&recording.tenant) {
                item.check_region(tenant)?;
            }
            let existing =
                read::by_content_hash(&mut *connection, &recording.tenant, &recording.content_hash)
                    .await?;
            if let Some(existing) = existing {
                outcomes.push(CommitOutcome::Duplicate { existing });
                continue;
            }
            if let Some(state) = read::state(&mut *connection, &recording.id).await? {
                return Err(match state {
                    RecordingState::Erased => Conflict::Transition {
                        id: recording.id,
                        from: RecordingState::Erased,
                        to: RecordingState::Committed,
                    },
                    _ => Conflict::RecordingIdTaken(recording.id),
                }
                .into());
            }
            insert_recording(&mut *connection, item).await?;
            let prepared = PreparedAuditEntry::new(&item.audit.entry(
                recording.created_at,
                Some(&recording.tenant),
                Some(&recording.id),
            ))?;
            let entry = one(append_entries(&mut *connection, &mut head, vec![prepared]).await?)?;
            outcomes.push(CommitOutcome::Committed {
                id: recording.id,
                audit_seq: entry.seq,
            });
        }
        write.transaction.commit().await?;
        Ok(outcomes)
    }

    async fn recording(
        &self,
        tenant: Option<&TenantId>,
        id: &RecordingId,
    ) -> Result<Option<RecordingDetail>, CatalogError> {
        let mut transaction = self.pool.begin().await?;
        let detail = read::detail(&mut transaction, tenant, id).await?;
        transaction.commit().await?;
        Ok(detail)
    }

    async fn recording_by_content_hash(
        &self,
        tenant: &TenantId,
        content_hash: &Sha256Digest,
    ) -> Result<Option<RecordingId>, CatalogError> {
        let mut connection = self.pool.acquire().await?;
        read::by_content_hash(&mut connection, tenant, content_hash).await
    }

    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> Result<Page, CatalogError> {
        filter.checked()?;
        let limit = page.checked_limit()?;
        let mut transaction = self.pool.begin().await?;
        let page = read::list(&mut transaction, filter, page.after.as_ref(), limit).await?;
        transaction.commit().await?;
        Ok(page)
    }

    async fn count_recordings(&self, filter: &RecordingFilter) -> Result<u64, CatalogError> {
        filter.checked()?;
        let mut connection = self.pool.acquire().await?;
        read::count(&mut connection, filter).await
    }

    async fn sealed_key(&self, id: &RecordingId) -> Result<Option<Vec<u8>>, CatalogError> {
        let row = sqlx::query("SELECT sealed_key FROM sealed_keys WHERE recording_id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("sealed_key")).transpose()?)
    }

    async fn erase_recording(
        &self,
        id: &RecordingId,
        at: DateTime<Utc>,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError> {
        let at = truncate_millis(&at);
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let row = sqlx::query("SELECT tenant_id, state FROM recordings WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *connection)
            .await?
            .ok_or_else(|| CatalogError::NotFound {
                what: "recording",
                id: id.to_string(),
            })?;
        let tenant = read::tenant_id("recordings.tenant_id", row.try_get("tenant_id")?)?;
        let state = read::recording_state(row.try_get("state")?)?;
        let next = state.transition(*id, RecordingState::Erased)?;
        // The sealed key goes first: from here on no copy of the recording can be opened.
        sqlx::query("DELETE FROM sealed_keys WHERE recording_id = $1")
            .bind(id.to_string())
            .execute(&mut *connection)
            .await?;
        sqlx::query("UPDATE recordings SET state = $1 WHERE id = $2")
            .bind(next.as_str())
            .bind(id.to_string())
            .execute(&mut *connection)
            .await?;
        let prepared = PreparedAuditEntry::new(&audit.entry(at, Some(&tenant), Some(id)))?;
        let mut head = audit_head(&mut *connection).await?;
        let entry = one(append_entries(&mut *connection, &mut head, vec![prepared]).await?)?;
        write.transaction.commit().await?;
        Ok(entry)
    }

    async fn record_refusals(
        &self,
        refusals: &[NewRefusal],
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        if refusals.len() > MAX_BATCH {
            return Err(CatalogError::Invalid("batch too large".into()));
        }
        let refusals = refusals
            .iter()
            .map(NewRefusal::checked)
            .collect::<Result<Vec<_>, _>>()?;
        let prepared = refusals
            .iter()
            .map(|refusal| {
                PreparedAuditEntry::new(&refusal.audit.entry(
                    refusal.at,
                    Some(&refusal.tenant),
                    None,
                ))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        for refusal in &refusals {
            if read::tenant(&mut *connection, &refusal.tenant)
                .await?
                .is_none()
            {
                return Err(CatalogError::NotFound {
                    what: "tenant",
                    id: refusal.tenant.to_string(),
                });
            }
            let (content_hash, client_name) = match &refusal.subject {
                RefusalSubject::ContentHash(hash) => (Some(hash.to_vec()), None),
                RefusalSubject::Client(name) => (None, Some(name.as_str())),
            };
            sqlx::query(
                "INSERT INTO refusals (tenant_id, at, reason, source, content_hash, client_name) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(refusal.tenant.as_str())
            .bind(to_millis(&refusal.at))
            .bind(&refusal.reason)
            .bind(refusal.source.as_str())
            .bind(content_hash)
            .bind(client_name)
            .execute(&mut *connection)
            .await?;
        }
        let mut head = audit_head(&mut *connection).await?;
        let entries = append_entries(&mut *connection, &mut head, prepared).await?;
        write.transaction.commit().await?;
        Ok(entries)
    }

    async fn refusal_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>, CatalogError> {
        let rows = sqlx::query(
            "SELECT reason, COUNT(*) AS count FROM refusals WHERE tenant_id = $1 \
             GROUP BY reason ORDER BY reason",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let count = read::unsigned("refusals.count", row.try_get("count")?)?;
                Ok((row.try_get("reason")?, count))
            })
            .collect()
    }

    async fn append_audit(
        &self,
        entries: &[NewAuditEntry],
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        if entries.len() > MAX_BATCH {
            return Err(CatalogError::Invalid("batch too large".into()));
        }
        let prepared = entries
            .iter()
            .map(PreparedAuditEntry::new)
            .collect::<Result<Vec<_>, _>>()?;
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let mut head = audit_head(&mut *connection).await?;
        let entries = append_entries(&mut *connection, &mut head, prepared).await?;
        write.transaction.commit().await?;
        Ok(entries)
    }

    async fn audit_entries(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        check_audit_limit(limit)?;
        let Some(from_seq) = i64::try_from(after_seq)
            .ok()
            .and_then(|after_seq| after_seq.checked_add(1))
        else {
            return Ok(Vec::new());
        };
        let mut connection = self.pool.acquire().await?;
        let stored = read::audit_page(&mut connection, from_seq, limit).await?;
        stored
            .into_iter()
            .map(|row| row.map_err(read::unreadable_audit)?.to_entry())
            .collect()
    }

    async fn audit_for_recording(&self, id: &RecordingId) -> Result<Vec<AuditEntry>, CatalogError> {
        let mut connection = self.pool.acquire().await?;
        read::audit_for_recording(&mut connection, id).await
    }

    async fn verify_audit(&self) -> Result<Result<AuditSummary, AuditBreak>, CatalogError> {
        // One read transaction: a consistent snapshot of the chain while appends go on.
        let mut transaction = self.pool.begin().await?;
        let verdict = read::verify(&mut transaction).await?;
        transaction.commit().await?;
        Ok(verdict)
    }
}
