//! The in-memory twin of the SQLite catalog: same trait, same conformance suite, no disk.
//! One mutex around the whole state makes every operation a transaction (checks first, then
//! writes, so a failed batch changes nothing) and serializes audit appends.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};

use crate::audit::{
    AuditBreak, AuditEntry, AuditNote, AuditSummary, GENESIS_HASH, NewAuditEntry,
    PreparedAuditEntry, StoredAuditEntry, verify_entries,
};
use crate::error::{CatalogError, Conflict};
use crate::time::{to_millis, truncate_millis};
use crate::tokens::{ApiToken, EvidenceCoverage, NewToken};
use crate::types::{
    CommitOutcome, CommitStep, Cursor, NewRecording, NewRefusal, Page, PageRequest,
    RecordingDetail, RecordingFilter, RecordingState, Sha256Digest, Tenant, plan_commit,
};
use crate::{Catalog, check_audit_limit};

mod completeness;
mod governance;
mod retention;
mod transparency;

#[derive(Debug, Default)]
pub struct MemoryCatalog {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    tenants: BTreeMap<TenantId, Tenant>,
    pub(crate) recordings: HashMap<RecordingId, RecordingDetail>,
    by_content_hash: HashMap<(TenantId, Sha256Digest), RecordingId>,
    sealed_keys: HashMap<RecordingId, Vec<u8>>,
    refusals: Vec<NewRefusal>,
    audit: Vec<StoredAuditEntry>,
    holds: Vec<crate::governance::Hold>,
    pub(crate) transcription_jobs: HashMap<RecordingId, crate::jobs::TranscriptionJob>,
    tokens: BTreeMap<String, ApiToken>,
    pub(crate) certificates: HashMap<RecordingId, crate::completeness::StoredCertificate>,
    pub(crate) transparency: transparency::LogState,
    retention_floors:
        BTreeMap<(TenantId, crate::retention::FloorScope), crate::retention::RetentionFloor>,
}

impl State {
    fn head(&self) -> Result<(u64, [u8; 32]), CatalogError> {
        match self.audit.last() {
            Some(last) => last.head(),
            None => Ok((0, GENESIS_HASH)),
        }
    }

    /// Chain checked entries onto the log; the caller has already checked everything else.
    pub(crate) fn append(
        &mut self,
        prepared: Vec<PreparedAuditEntry>,
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        let (mut seq, mut hash) = self.head()?;
        let mut stored = Vec::with_capacity(prepared.len());
        for entry in prepared {
            let entry = entry.chain(seq, hash);
            (seq, hash) = entry.head()?;
            stored.push(entry);
        }
        let entries = stored
            .iter()
            .map(StoredAuditEntry::to_entry)
            .collect::<Result<Vec<_>, _>>()?;
        self.audit.extend(stored);
        Ok(entries)
    }
}

impl MemoryCatalog {
    pub fn new() -> MemoryCatalog {
        MemoryCatalog::default()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half a transaction behind: every
        // operation checks before it writes.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) fn one(mut entries: Vec<AuditEntry>) -> Result<AuditEntry, CatalogError> {
    entries.pop().ok_or_else(|| CatalogError::Corrupt {
        column: "audit",
        reason: "append returned no entry".into(),
    })
}

#[async_trait]
impl Catalog for MemoryCatalog {
    async fn register_tenant(
        &self,
        tenant: &Tenant,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError> {
        let tenant = tenant.normalized()?;
        let prepared =
            PreparedAuditEntry::new(&audit.entry(tenant.created_at, Some(&tenant.id), None))?;
        let mut state = self.lock();
        if state.tenants.contains_key(&tenant.id) {
            return Err(Conflict::TenantExists(tenant.id).into());
        }
        let entry = one(state.append(vec![prepared])?)?;
        state.tenants.insert(tenant.id.clone(), tenant);
        Ok(entry)
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, CatalogError> {
        Ok(self.lock().tenants.get(id).cloned())
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, CatalogError> {
        Ok(self.lock().tenants.values().cloned().collect())
    }

    async fn commit_recordings(
        &self,
        recordings: &[NewRecording],
    ) -> Result<Vec<CommitOutcome>, CatalogError> {
        if recordings.len() > crate::types::MAX_BATCH {
            return Err(CatalogError::Invalid("batch too large".into()));
        }
        let checked = recordings
            .iter()
            .map(NewRecording::checked)
            .collect::<Result<Vec<_>, _>>()?;
        let mut state = self.lock();

        // Decide every outcome, failing before anything is written.
        for item in &checked {
            let tenant = state.tenants.get(&item.recording.tenant).ok_or_else(|| {
                CatalogError::NotFound {
                    what: "tenant",
                    id: item.recording.tenant.to_string(),
                }
            })?;
            item.check_region(tenant)?;
        }
        let steps = plan_commit(
            &checked,
            |tenant, hash| state.by_content_hash.get(&(tenant.clone(), *hash)).copied(),
            |id| {
                state
                    .recordings
                    .get(id)
                    .map(|detail| detail.recording.state)
            },
        )?;
        let mut plan = Vec::with_capacity(checked.len());
        for (item, step) in checked.into_iter().zip(steps) {
            if let CommitStep::Duplicate { existing } = step {
                plan.push(Err(CommitOutcome::Duplicate { existing }));
                continue;
            }
            let audit = PreparedAuditEntry::new(&item.audit.entry(
                item.recording.created_at,
                Some(&item.recording.tenant),
                Some(&item.recording.id),
            ))?;
            plan.push(Ok((item, audit)));
        }

        // Pass 2: write.
        let mut outcomes = Vec::with_capacity(plan.len());
        for step in plan {
            let (item, audit) = match step {
                Ok(step) => step,
                Err(duplicate) => {
                    outcomes.push(duplicate);
                    continue;
                }
            };
            let entry = one(state.append(vec![audit])?)?;
            let id = item.recording.id;
            state.by_content_hash.insert(
                (item.recording.tenant.clone(), item.recording.content_hash),
                id,
            );
            state.sealed_keys.insert(id, item.sealed_key);
            if let Some(certificate) = item.certificate {
                state.certificates.insert(
                    id,
                    crate::completeness::StoredCertificate {
                        recording: id,
                        tenant: item.recording.tenant.clone(),
                        started_at: item.recording.started_at,
                        verdict: certificate.verdict,
                        gap_count: certificate.gap_count,
                        document: certificate.document,
                    },
                );
            }
            state.recordings.insert(
                id,
                RecordingDetail {
                    recording: item.recording,
                    participants: item.participants,
                    streams: item.streams,
                },
            );
            outcomes.push(CommitOutcome::Committed {
                id,
                audit_seq: entry.seq,
            });
        }
        Ok(outcomes)
    }

    async fn recording(
        &self,
        tenant: Option<&TenantId>,
        id: &RecordingId,
    ) -> Result<Option<RecordingDetail>, CatalogError> {
        let state = self.lock();
        Ok(state
            .recordings
            .get(id)
            .filter(|detail| tenant.is_none_or(|tenant| *tenant == detail.recording.tenant))
            .cloned())
    }

    async fn recording_by_content_hash(
        &self,
        tenant: &TenantId,
        content_hash: &Sha256Digest,
    ) -> Result<Option<RecordingId>, CatalogError> {
        let key = (tenant.clone(), *content_hash);
        Ok(self.lock().by_content_hash.get(&key).copied())
    }

    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> Result<Page, CatalogError> {
        filter.checked()?;
        let limit = page.checked_limit()? as usize;
        let state = self.lock();
        let mut items: Vec<_> = state
            .recordings
            .values()
            .filter(|detail| filter.matches_detail(detail))
            .map(|detail| &detail.recording)
            .filter(|recording| {
                page.after.is_none_or(|after| {
                    let millis = to_millis(&recording.started_at);
                    millis < after.started_at_millis
                        || (millis == after.started_at_millis && recording.id < after.id)
                })
            })
            .collect();
        items.sort_by_key(|recording| std::cmp::Reverse((recording.started_at, recording.id)));
        let more = items.len() > limit;
        items.truncate(limit);
        let items: Vec<_> = items.into_iter().cloned().collect();
        let next = match (more, items.last()) {
            (true, Some(last)) => Some(Cursor {
                started_at_millis: to_millis(&last.started_at),
                id: last.id,
            }),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn count_recordings(&self, filter: &RecordingFilter) -> Result<u64, CatalogError> {
        filter.checked()?;
        let state = self.lock();
        let count = state
            .recordings
            .values()
            .filter(|detail| filter.matches_detail(detail))
            .count();
        Ok(count as u64)
    }

    async fn sealed_key(&self, id: &RecordingId) -> Result<Option<Vec<u8>>, CatalogError> {
        Ok(self.lock().sealed_keys.get(id).cloned())
    }

    async fn erase_recording(
        &self,
        id: &RecordingId,
        at: DateTime<Utc>,
        audit: &AuditNote,
    ) -> Result<AuditEntry, CatalogError> {
        let at = truncate_millis(&at);
        let mut state = self.lock();
        let detail = state
            .recordings
            .get(id)
            .ok_or_else(|| CatalogError::NotFound {
                what: "recording",
                id: id.to_string(),
            })?;
        let next = detail
            .recording
            .state
            .transition(*id, RecordingState::Erased)?;
        let holds = state.holds_covering(id);
        if !holds.is_empty() {
            return Err(crate::governance::held(*id, &holds));
        }
        let tenant = detail.recording.tenant.clone();
        crate::retention::check_floor(&state.floors_of(&tenant), &detail.recording, at)?;
        let prepared = PreparedAuditEntry::new(&audit.entry(at, Some(&tenant), Some(id)))?;
        let entry = one(state.append(vec![prepared])?)?;
        state.sealed_keys.remove(id);
        if let Some(detail) = state.recordings.get_mut(id) {
            detail.recording.state = next;
        }
        Ok(entry)
    }

    async fn record_refusals(
        &self,
        refusals: &[NewRefusal],
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        if refusals.len() > crate::types::MAX_BATCH {
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
        let mut state = self.lock();
        for refusal in &refusals {
            if !state.tenants.contains_key(&refusal.tenant) {
                return Err(CatalogError::NotFound {
                    what: "tenant",
                    id: refusal.tenant.to_string(),
                });
            }
        }
        let entries = state.append(prepared)?;
        state.refusals.extend(refusals);
        Ok(entries)
    }

    async fn refusal_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>, CatalogError> {
        let state = self.lock();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for refusal in state
            .refusals
            .iter()
            .filter(|refusal| refusal.tenant == *tenant)
        {
            *counts.entry(refusal.reason.clone()).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }

    async fn append_audit(
        &self,
        entries: &[NewAuditEntry],
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        if entries.len() > crate::types::MAX_BATCH {
            return Err(CatalogError::Invalid("batch too large".into()));
        }
        let prepared = entries
            .iter()
            .map(PreparedAuditEntry::new)
            .collect::<Result<Vec<_>, _>>()?;
        self.lock().append(prepared)
    }

    async fn audit_entries(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        check_audit_limit(limit)?;
        let state = self.lock();
        state
            .audit
            .iter()
            .filter(|entry| u64::try_from(entry.seq).is_ok_and(|seq| seq > after_seq))
            .take(limit as usize)
            .map(StoredAuditEntry::to_entry)
            .collect()
    }

    async fn audit_for_recording(&self, id: &RecordingId) -> Result<Vec<AuditEntry>, CatalogError> {
        let id = id.to_string();
        let state = self.lock();
        state
            .audit
            .iter()
            .filter(|entry| entry.recording.as_deref() == Some(id.as_str()))
            .map(StoredAuditEntry::to_entry)
            .collect()
    }

    async fn verify_audit(&self) -> Result<Result<AuditSummary, AuditBreak>, CatalogError> {
        Ok(verify_entries(&self.lock().audit))
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
        let mut state = self.lock();
        if let Some(tenant) = &token.tenant
            && !state.tenants.contains_key(tenant)
        {
            return Err(CatalogError::NotFound {
                what: "tenant",
                id: tenant.to_string(),
            });
        }
        if state.tokens.contains_key(&token.id) {
            return Err(Conflict::TokenExists(token.id).into());
        }
        let entry = one(state.append(vec![prepared])?)?;
        state.tokens.insert(token.id.clone(), token);
        Ok(entry)
    }

    async fn token(&self, id: &str) -> Result<Option<ApiToken>, CatalogError> {
        Ok(self.lock().tokens.get(id).cloned())
    }

    async fn evidence_coverage(&self, tenant: &TenantId) -> Result<EvidenceCoverage, CatalogError> {
        let state = self.lock();
        let mut coverage = EvidenceCoverage::default();
        for detail in state
            .recordings
            .values()
            .filter(|detail| detail.recording.tenant == *tenant)
        {
            coverage.recordings += 1;
            for participant in &detail.participants {
                coverage.participants += 1;
                if !participant.evidence.is_empty() {
                    coverage.covered_participants += 1;
                }
            }
        }
        Ok(coverage)
    }
}
