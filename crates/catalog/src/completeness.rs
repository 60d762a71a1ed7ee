//! Completeness certificates in the catalog: one per recording, written in the same
//! transaction as the recording itself (an optional part of [`crate::NewRecording`]), so a
//! recording committed with a certificate never exists without it.
//!
//! The catalog keeps the certificate as an opaque signed document (JSON text) beside the
//! verdict and the number of findings, which it indexes for reports. It never computes a
//! verdict nor checks a signature: the server does both (`onrecord::completeness`).
//! A certificate names stream labels and participant ordinals, never addresses, so it
//! survives the erasure of its recording unchanged.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};

use crate::error::CatalogError;

/// Largest stored certificate document.
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

/// Whether a recording holds everything it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompletenessVerdict {
    Complete,
    Gaps,
}

impl CompletenessVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            CompletenessVerdict::Complete => "complete",
            CompletenessVerdict::Gaps => "gaps",
        }
    }

    pub fn parse(text: &str) -> Option<CompletenessVerdict> {
        match text {
            "complete" => Some(CompletenessVerdict::Complete),
            "gaps" => Some(CompletenessVerdict::Gaps),
            _ => None,
        }
    }
}

/// A certificate to store with its recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    pub verdict: CompletenessVerdict,
    /// Findings in the certificate (0 exactly when the verdict is `Complete`).
    pub gap_count: u32,
    /// The signed document, JSON text.
    pub document: String,
}

impl NewCertificate {
    pub(crate) fn checked(&self) -> Result<(), CatalogError> {
        if self.document.is_empty() || self.document.len() > MAX_CERTIFICATE_BYTES {
            return Err(CatalogError::Invalid(format!(
                "a completeness certificate must be 1 to {MAX_CERTIFICATE_BYTES} bytes"
            )));
        }
        let consistent = match self.verdict {
            CompletenessVerdict::Complete => self.gap_count == 0,
            CompletenessVerdict::Gaps => self.gap_count > 0,
        };
        if !consistent {
            return Err(CatalogError::Invalid(format!(
                "a {} certificate cannot have {} findings",
                self.verdict.as_str(),
                self.gap_count
            )));
        }
        Ok(())
    }
}

/// A stored certificate with the recording facts a report sorts and filters by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    pub recording: RecordingId,
    pub tenant: TenantId,
    /// The recording's start (millisecond precision).
    pub started_at: DateTime<Utc>,
    pub verdict: CompletenessVerdict,
    pub gap_count: u32,
    pub document: String,
}

/// Which certificates a report reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateQuery {
    pub tenant: TenantId,
    /// Inclusive lower bound on the recording's `started_at`.
    pub started_from: Option<DateTime<Utc>>,
    /// Only certificates with this verdict; `None` for all.
    pub verdict: Option<CompletenessVerdict>,
    /// Keyset paging: only certificates after this `(started_at, recording)` position (the
    /// last of the previous page).
    pub after: Option<(DateTime<Utc>, RecordingId)>,
    /// Most certificates returned, 1 to [`crate::MAX_BATCH`].
    pub limit: u32,
}

impl CertificateQuery {
    pub(crate) fn checked_limit(&self) -> Result<usize, CatalogError> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if limit == 0 || limit > crate::MAX_BATCH {
            return Err(CatalogError::Invalid(format!(
                "certificate limit must be 1 to {}",
                crate::MAX_BATCH
            )));
        }
        Ok(limit)
    }
}

/// Certificates of a tenant counted by verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CertificateCounts {
    pub complete: u64,
    pub gaps: u64,
}

/// Reading completeness certificates; a supertrait of [`crate::Catalog`]. Writing happens
/// only inside [`crate::Catalog::commit_recordings`].
#[async_trait]
pub trait Completeness: Send + Sync {
    /// The certificate of a recording, if it has one.
    async fn completeness_certificate(
        &self,
        id: &RecordingId,
    ) -> Result<Option<StoredCertificate>, CatalogError>;

    /// Certificates matching `query`, oldest recording first (`started_at`, then id).
    async fn completeness_certificates(
        &self,
        query: &CertificateQuery,
    ) -> Result<Vec<StoredCertificate>, CatalogError>;

    /// How many of the tenant's certificates (of recordings started at or after
    /// `started_from`) say complete and how many say gaps.
    async fn completeness_counts(
        &self,
        tenant: &TenantId,
        started_from: Option<DateTime<Utc>>,
    ) -> Result<CertificateCounts, CatalogError>;
}
