//! The in-memory twin's minimum-retention floors and expiry query.

use async_trait::async_trait;
use model::TenantId;

use super::{MemoryCatalog, State, one};
use crate::audit::{AuditNote, PreparedAuditEntry};
use crate::error::CatalogError;
use crate::retention::{
    ExpiredPage, ExpiryQuery, FloorChange, FloorDecision, FloorOutcome, Retention, RetentionFloor,
    is_after, pick_expired,
};
use crate::types::RecordingState;

impl State {
    /// The tenant's stored floors, tenant scope first.
    pub(super) fn floors_of(&self, tenant: &TenantId) -> Vec<RetentionFloor> {
        self.retention_floors
            .values()
            .filter(|floor| floor.tenant == *tenant)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Retention for MemoryCatalog {
    async fn set_retention_floor(
        &self,
        change: &FloorChange,
    ) -> Result<FloorOutcome, CatalogError> {
        let change = change.checked()?;
        let mut state = self.lock();
        if !state.tenants.contains_key(&change.tenant) {
            return Err(CatalogError::NotFound {
                what: "tenant",
                id: change.tenant.to_string(),
            });
        }
        let key = (change.tenant.clone(), change.scope.clone());
        let stored = state.retention_floors.get(&key).cloned();
        let (action, details, write) = match change.decide(stored.as_ref()) {
            FloorDecision::Unchanged => return Ok(FloorOutcome::Unchanged),
            FloorDecision::Write(action, details) => (action, details, true),
            FloorDecision::Refuse(details) => ("retention.shorten-refused", details, false),
        };
        let note = AuditNote::new(&change.actor, action, details);
        let prepared = PreparedAuditEntry::new(&note.entry(change.at, Some(&change.tenant), None))?;
        let entry = one(state.append(vec![prepared])?)?;
        if write {
            state.retention_floors.insert(key, change.floor());
        }
        Ok(match (stored, write) {
            (Some(stored), false) => FloorOutcome::Refused { stored, entry },
            (Some(stored), true) => FloorOutcome::Raised {
                previous: stored.minimum_days,
                entry,
            },
            (None, _) => FloorOutcome::Set { entry },
        })
    }

    async fn retention_floors(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<RetentionFloor>, CatalogError> {
        Ok(self
            .lock()
            .retention_floors
            .values()
            .filter(|floor| tenant.is_none_or(|tenant| floor.tenant == *tenant))
            .cloned()
            .collect())
    }

    async fn expired_recordings(&self, query: &ExpiryQuery) -> Result<ExpiredPage, CatalogError> {
        query.checked()?;
        let state = self.lock();
        let floors = state.floors_of(&query.tenant);
        let before = query.started_before();
        let mut candidates: Vec<_> = state
            .recordings
            .values()
            .map(|detail| &detail.recording)
            .filter(|recording| {
                recording.tenant == query.tenant
                    && recording.state == RecordingState::Committed
                    && recording.started_at < before
                    && is_after(recording, query.after.as_ref())
            })
            .cloned()
            .collect();
        candidates.sort_by_key(|recording| (recording.started_at, recording.id));
        let mut items = Vec::new();
        let next = pick_expired(query, &floors, candidates, &mut items);
        Ok(ExpiredPage { items, next })
    }
}
