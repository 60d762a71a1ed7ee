//! The in-memory twin's legal holds and erasure.

use async_trait::async_trait;
use model::{Pii, RecordingId, TenantId};
use sha2::{Digest, Sha256};

use super::{MemoryCatalog, State, one};
use crate::audit::{AuditEntry, AuditNote, PreparedAuditEntry};
use crate::error::CatalogError;
use crate::governance::{
    Governance, Hold, HoldRelease, HoldScope, NewHold, ShredOutcome, ShredRequest, held, pseudonym,
};
use crate::retention::check_floor;
use crate::time::truncate_millis;
use crate::types::RecordingState;

impl State {
    pub(super) fn holds_covering(&self, id: &RecordingId) -> Vec<Hold> {
        let Some(detail) = self.recordings.get(id) else {
            return Vec::new();
        };
        self.holds
            .iter()
            .filter(|hold| hold.covers(detail))
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Governance for MemoryCatalog {
    async fn place_hold(&self, hold: &NewHold) -> Result<(Hold, AuditEntry), CatalogError> {
        let hold = hold.checked()?;
        let mut state = self.lock();
        if !state.tenants.contains_key(&hold.tenant) {
            return Err(CatalogError::NotFound {
                what: "tenant",
                id: hold.tenant.to_string(),
            });
        }
        if let HoldScope::Recording(id) = &hold.scope
            && state
                .recordings
                .get(id)
                .is_none_or(|detail| detail.recording.tenant != hold.tenant)
        {
            return Err(CatalogError::NotFound {
                what: "recording",
                id: id.to_string(),
            });
        }
        let stored = Hold {
            id: state.holds.len() as u64 + 1,
            tenant: hold.tenant.clone(),
            scope: hold.scope.clone(),
            reason: hold.reason.clone(),
            holder: hold.holder.clone(),
            placed_at: hold.at,
            released: None,
        };
        let recording = match &stored.scope {
            HoldScope::Recording(id) => Some(*id),
            _ => None,
        };
        let note = AuditNote::new(&hold.holder, "hold.placed", stored.audit_details());
        let prepared =
            PreparedAuditEntry::new(&note.entry(hold.at, Some(&hold.tenant), recording.as_ref()))?;
        let entry = one(state.append(vec![prepared])?)?;
        state.holds.push(stored.clone());
        Ok((stored, entry))
    }

    async fn release_holds(
        &self,
        tenant: &TenantId,
        scope: &HoldScope,
        release: &HoldRelease,
    ) -> Result<Vec<Hold>, CatalogError> {
        let release = release.checked()?;
        let scope = scope.normalized()?;
        let mut state = self.lock();
        let matching: Vec<usize> = state
            .holds
            .iter()
            .enumerate()
            .filter(|(_, hold)| hold.is_active() && hold.tenant == *tenant && hold.scope == scope)
            .map(|(index, _)| index)
            .collect();
        if matching.is_empty() {
            return Err(CatalogError::NotFound {
                what: "active hold",
                id: format!("{tenant}/{}", scope.kind()),
            });
        }
        let mut released = Vec::with_capacity(matching.len());
        let mut prepared = Vec::with_capacity(matching.len());
        for index in matching {
            let Some(hold) = state.holds.get(index) else {
                continue;
            };
            let mut hold = hold.clone();
            hold.released = Some(release.clone());
            let mut details = hold.audit_details();
            details["release_reason"] = serde_json::json!(release.reason);
            let recording = match &hold.scope {
                HoldScope::Recording(id) => Some(*id),
                _ => None,
            };
            let note = AuditNote::new(&release.by, "hold.released", details);
            prepared.push(PreparedAuditEntry::new(&note.entry(
                release.at,
                Some(tenant),
                recording.as_ref(),
            ))?);
            released.push((index, hold));
        }
        state.append(prepared)?;
        for (index, hold) in &released {
            if let Some(slot) = state.holds.get_mut(*index) {
                *slot = hold.clone();
            }
        }
        Ok(released.into_iter().map(|(_, hold)| hold).collect())
    }

    async fn holds(
        &self,
        tenant: Option<&TenantId>,
        include_released: bool,
    ) -> Result<Vec<Hold>, CatalogError> {
        Ok(self
            .lock()
            .holds
            .iter()
            .filter(|hold| tenant.is_none_or(|tenant| *tenant == hold.tenant))
            .filter(|hold| include_released || hold.is_active())
            .cloned()
            .collect())
    }

    async fn holds_covering(&self, id: &RecordingId) -> Result<Vec<Hold>, CatalogError> {
        Ok(self.lock().holds_covering(id))
    }

    async fn recordings_with_participant(
        &self,
        tenant: &TenantId,
        address: &Pii<String>,
    ) -> Result<Vec<RecordingId>, CatalogError> {
        let state = self.lock();
        let mut found: Vec<_> = state
            .recordings
            .values()
            .filter(|detail| detail.recording.tenant == *tenant)
            .filter(|detail| detail.participants.iter().any(|p| p.address == *address))
            .map(|detail| (detail.recording.started_at, detail.recording.id))
            .collect();
        found.sort();
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }

    async fn shred_recordings(
        &self,
        requests: &[ShredRequest],
    ) -> Result<Vec<Result<ShredOutcome, CatalogError>>, CatalogError> {
        if requests.len() > crate::types::MAX_BATCH {
            return Err(CatalogError::Invalid("batch too large".into()));
        }
        let mut state = self.lock();
        Ok(requests
            .iter()
            .map(|request| state.shred(request))
            .collect())
    }
}

impl State {
    /// One erasure: checks first, then writes (so a refusal changes nothing).
    fn shred(&mut self, request: &ShredRequest) -> Result<ShredOutcome, CatalogError> {
        let at = truncate_millis(&request.at);
        let id = request.recording;
        let detail = self
            .recordings
            .get(&id)
            .ok_or_else(|| CatalogError::NotFound {
                what: "recording",
                id: id.to_string(),
            })?;
        let next = detail
            .recording
            .state
            .transition(id, RecordingState::Erased)?;
        let holds = self.holds_covering(&id);
        if !holds.is_empty() {
            return Err(held(id, &holds));
        }
        let tenant = detail.recording.tenant.clone();
        check_floor(&self.floors_of(&tenant), &detail.recording, at)?;
        let streams = detail.streams.clone();
        let sealed_key_sha256: [u8; 32] = Sha256::digest(
            self.sealed_keys
                .get(&id)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        )
        .into();
        let prepared = PreparedAuditEntry::new(&request.audit.entry(at, Some(&tenant), Some(&id)))?;
        let entry = one(self.append(vec![prepared])?)?;
        self.sealed_keys.remove(&id);
        let mut participants_pseudonymised = 0;
        if let Some(detail) = self.recordings.get_mut(&id) {
            detail.recording.state = next;
            for participant in &mut detail.participants {
                participant.address = Pii::new(pseudonym(
                    &request.pseudonym_salt,
                    participant.address.dangerous_reveal(),
                ));
                participant.name = None;
                participants_pseudonymised += 1;
            }
        }
        Ok(ShredOutcome {
            tenant,
            entry,
            sealed_key_sha256,
            streams,
            participants_pseudonymised,
        })
    }
}
