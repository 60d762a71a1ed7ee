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
//! (The PostgreSQL backend will take a transaction-scoped advisory lock instead, which also
//! serializes appends across nodes.)

use std::collections::HashMap;
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
    PreparedAuditEntry, StoredAuditEntry,
};
use crate::error::{CatalogError, Conflict};
use crate::sqlite_commit as batch;
use crate::sqlite_read as read;
use crate::sqlite_tokens as tokens;
use crate::time::{to_millis, truncate_millis};
use crate::tokens::{ApiToken, EvidenceCoverage, NewToken};
use crate::types::{
    CheckedRecording, CommitOutcome, CommitStep, MAX_BATCH, NewRecording, NewRefusal, Page,
    PageRequest, RecordingDetail, RecordingFilter, RecordingState, RefusalSubject, Sha256Digest,
    Tenant, plan_commit,
};
use crate::{Catalog, check_audit_limit};

mod completeness;
mod governance;
mod retention;
mod transparency;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The SQLite catalog. Cheap to clone (a pool and a lock).
#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    pool: SqlitePool,
    write_gate: Arc<Mutex<()>>,
}

/// A write transaction and the gate that makes it the only one.
pub(crate) struct Write {
    pub(crate) transaction: Transaction<'static, Sqlite>,
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

    pub(crate) async fn begin_write(&self) -> Result<Write, CatalogError> {
        let gate = Arc::clone(&self.write_gate).lock_owned().await;
        let transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Write {
            transaction,
            _gate: gate,
        })
    }
}

/// The last `(seq, hash)` of the chain, read inside the write transaction.
pub(crate) async fn audit_head(
    connection: &mut SqliteConnection,
) -> Result<(u64, [u8; 32]), CatalogError> {
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

/// Chains entries after `head`, inserts them, and returns them; `head` moves to the last.
pub(crate) async fn append_entries(
    connection: &mut SqliteConnection,
    head: &mut (u64, [u8; 32]),
    prepared: Vec<PreparedAuditEntry>,
) -> Result<Vec<AuditEntry>, CatalogError> {
    let mut stored = Vec::with_capacity(prepared.len());
    for entry in prepared {
        let entry = entry.chain(head.0, head.1);
        *head = entry.head()?;
        stored.push(entry);
    }
    batch::insert_audit(connection, &stored).await?;
    stored.iter().map(StoredAuditEntry::to_entry).collect()
}

pub(crate) fn one(mut entries: Vec<AuditEntry>) -> Result<AuditEntry, CatalogError> {
    entries.pop().ok_or_else(|| CatalogError::Corrupt {
        column: "audit",
        reason: "append returned no entry".into(),
    })
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
        let mut tenants: HashMap<TenantId, Tenant> = HashMap::new();
        for item in &checked {
            let id = &item.recording.tenant;
            if !tenants.contains_key(id) {
                let tenant = read::tenant(&mut *connection, id).await?.ok_or_else(|| {
                    CatalogError::NotFound {
                        what: "tenant",
                        id: id.to_string(),
                    }
                })?;
                tenants.insert(id.clone(), tenant);
            }
            if let Some(tenant) = tenants.get(id) {
                item.check_region(tenant)?;
            }
        }
        let hashes = batch::stored_hashes(&mut *connection, &checked).await?;
        let states = batch::stored_states(&mut *connection, &checked).await?;
        let steps = plan_commit(
            &checked,
            |tenant, hash| hashes.get(&(tenant.clone(), *hash)).copied(),
            |id| states.get(id).copied(),
        )?;
        let inserted: Vec<&CheckedRecording> = checked
            .iter()
            .zip(&steps)
            .filter(|(_, step)| **step == CommitStep::Insert)
            .map(|(item, _)| item)
            .collect();
        batch::insert_recordings(&mut *connection, &inserted).await?;
        let prepared = inserted
            .iter()
            .map(|item| {
                PreparedAuditEntry::new(&item.audit.entry(
                    item.recording.created_at,
                    Some(&item.recording.tenant),
                    Some(&item.recording.id),
                ))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut head = audit_head(&mut *connection).await?;
        let entries = append_entries(&mut *connection, &mut head, prepared).await?;
        write.transaction.commit().await?;

        let mut entries = entries.into_iter();
        checked
            .iter()
            .zip(steps)
            .map(|(item, step)| match step {
                CommitStep::Duplicate { existing } => Ok(CommitOutcome::Duplicate { existing }),
                CommitStep::Insert => {
                    let entry = entries.next().ok_or_else(|| CatalogError::Corrupt {
                        column: "audit",
                        reason: "fewer audit entries than recordings".into(),
                    })?;
                    Ok(CommitOutcome::Committed {
                        id: item.recording.id,
                        audit_seq: entry.seq,
                    })
                }
            })
            .collect()
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
        let holds = governance::holds_covering(&mut *connection, id).await?;
        if !holds.is_empty() {
            return Err(crate::governance::held(*id, &holds));
        }
        if let Some(detail) = read::detail(&mut *connection, None, id).await? {
            let floors = retention::floors_of(&mut *connection, Some(&tenant)).await?;
            crate::retention::check_floor(&floors, &detail.recording, at)?;
        }
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

    async fn create_token(&self, new: &NewToken) -> Result<AuditEntry, CatalogError> {
        let token = ApiToken {
            created_at: truncate_millis(&new.token.created_at),
            revoked_at: new.token.revoked_at.as_ref().map(truncate_millis),
            ..new.token.clone()
        };
        token.checked()?;
        let prepared = PreparedAuditEntry::new(&new.audit.entry(
            token.created_at,
            token.tenant.as_ref(),
            None,
        ))?;
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        if let Some(tenant) = &token.tenant
            && read::tenant(&mut *connection, tenant).await?.is_none()
        {
            return Err(CatalogError::NotFound {
                what: "tenant",
                id: tenant.to_string(),
            });
        }
        if tokens::token(&mut *connection, &token.id).await?.is_some() {
            return Err(Conflict::TokenExists(token.id).into());
        }
        tokens::insert(&mut *connection, &token).await?;
        let mut head = audit_head(&mut *connection).await?;
        let entry = one(append_entries(&mut *connection, &mut head, vec![prepared]).await?)?;
        write.transaction.commit().await?;
        Ok(entry)
    }

    async fn token(&self, id: &str) -> Result<Option<ApiToken>, CatalogError> {
        let mut connection = self.pool.acquire().await?;
        tokens::token(&mut connection, id).await
    }

    async fn evidence_coverage(&self, tenant: &TenantId) -> Result<EvidenceCoverage, CatalogError> {
        let mut connection = self.pool.acquire().await?;
        tokens::coverage(&mut connection, tenant).await
    }
}
