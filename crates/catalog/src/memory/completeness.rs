//! The in-memory twin's completeness certificates (stored by its `commit_recordings`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};

use super::MemoryCatalog;
use crate::completeness::{
    CertificateCounts, CertificateQuery, Completeness, CompletenessVerdict, StoredCertificate,
};
use crate::error::CatalogError;
use crate::time::truncate_millis;

fn started_since(certificate: &StoredCertificate, from: Option<&DateTime<Utc>>) -> bool {
    from.is_none_or(|from| certificate.started_at >= truncate_millis(from))
}

#[async_trait]
impl Completeness for MemoryCatalog {
    async fn completeness_certificate(
        &self,
        id: &RecordingId,
    ) -> Result<Option<StoredCertificate>, CatalogError> {
        Ok(self.lock().certificates.get(id).cloned())
    }

    async fn completeness_certificates(
        &self,
        query: &CertificateQuery,
    ) -> Result<Vec<StoredCertificate>, CatalogError> {
        let limit = query.checked_limit()?;
        let state = self.lock();
        let after = query
            .after
            .as_ref()
            .map(|(started_at, id)| (truncate_millis(started_at), id.to_string()));
        let mut found: Vec<StoredCertificate> = state
            .certificates
            .values()
            .filter(|certificate| {
                certificate.tenant == query.tenant
                    && started_since(certificate, query.started_from.as_ref())
                    && query
                        .verdict
                        .is_none_or(|verdict| verdict == certificate.verdict)
                    && after.as_ref().is_none_or(|after| {
                        (certificate.started_at, certificate.recording.to_string()) > *after
                    })
            })
            .cloned()
            .collect();
        // The SQL backend orders by the id's text, which for UUIDs is the byte order too.
        found.sort_by(|left, right| {
            (left.started_at, left.recording.to_string())
                .cmp(&(right.started_at, right.recording.to_string()))
        });
        found.truncate(limit);
        Ok(found)
    }

    async fn completeness_counts(
        &self,
        tenant: &TenantId,
        started_from: Option<DateTime<Utc>>,
    ) -> Result<CertificateCounts, CatalogError> {
        let state = self.lock();
        let mut counts = CertificateCounts::default();
        for certificate in state.certificates.values() {
            if certificate.tenant != *tenant || !started_since(certificate, started_from.as_ref()) {
                continue;
            }
            match certificate.verdict {
                CompletenessVerdict::Complete => counts.complete += 1,
                CompletenessVerdict::Gaps => counts.gaps += 1,
            }
        }
        Ok(counts)
    }
}
