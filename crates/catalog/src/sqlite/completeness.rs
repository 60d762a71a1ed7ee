//! The SQLite backend's completeness certificates (written by the batch commit in
//! `sqlite_commit`; read here).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::SqliteCatalog;
use crate::completeness::{
    CertificateCounts, CertificateQuery, Completeness, CompletenessVerdict, StoredCertificate,
};
use crate::error::CatalogError;
use crate::sqlite_read as read;
use crate::time::{from_millis, to_millis};

macro_rules! certificate_columns {
    () => {
        "recording_id, tenant_id, started_at, verdict, gap_count, document"
    };
}

fn corrupt(column: &'static str, reason: impl Into<String>) -> CatalogError {
    CatalogError::Corrupt {
        column,
        reason: reason.into(),
    }
}

fn verdict(column: &'static str, text: &str) -> Result<CompletenessVerdict, CatalogError> {
    CompletenessVerdict::parse(text).ok_or_else(|| corrupt(column, format!("unknown {text:?}")))
}

fn certificate_from_row(row: &SqliteRow) -> Result<StoredCertificate, CatalogError> {
    let id: String = row.try_get("recording_id")?;
    let gap_count = read::unsigned(
        "completeness_certificates.gap_count",
        row.try_get("gap_count")?,
    )?;
    Ok(StoredCertificate {
        recording: id.parse().map_err(|error: model::IdError| {
            corrupt("completeness_certificates.recording_id", error.to_string())
        })?,
        tenant: read::tenant_id(
            "completeness_certificates.tenant_id",
            row.try_get("tenant_id")?,
        )?,
        started_at: from_millis(
            "completeness_certificates.started_at",
            row.try_get("started_at")?,
        )?,
        verdict: verdict(
            "completeness_certificates.verdict",
            &row.try_get::<String, _>("verdict")?,
        )?,
        gap_count: u32::try_from(gap_count)
            .map_err(|_| corrupt("completeness_certificates.gap_count", "too large"))?,
        document: row.try_get("document")?,
    })
}

#[async_trait]
impl Completeness for SqliteCatalog {
    async fn completeness_certificate(
        &self,
        id: &RecordingId,
    ) -> Result<Option<StoredCertificate>, CatalogError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            certificate_columns!(),
            " FROM completeness_certificates WHERE recording_id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    async fn completeness_certificates(
        &self,
        query: &CertificateQuery,
    ) -> Result<Vec<StoredCertificate>, CatalogError> {
        let limit = query.checked_limit()?;
        let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(concat!(
            "SELECT ",
            certificate_columns!(),
            " FROM completeness_certificates WHERE tenant_id = "
        ));
        builder.push_bind(query.tenant.as_str());
        if let Some(from) = &query.started_from {
            builder.push(" AND started_at >= ");
            builder.push_bind(to_millis(from));
        }
        if let Some(verdict) = query.verdict {
            builder.push(" AND verdict = ");
            builder.push_bind(verdict.as_str());
        }
        if let Some((started_at, id)) = &query.after {
            let millis = to_millis(started_at);
            builder.push(" AND (started_at > ");
            builder.push_bind(millis);
            builder.push(" OR (started_at = ");
            builder.push_bind(millis);
            builder.push(" AND recording_id > ");
            builder.push_bind(id.to_string());
            builder.push("))");
        }
        builder.push(" ORDER BY started_at, recording_id LIMIT ");
        builder.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = builder.build().fetch_all(&self.pool).await?;
        rows.iter().map(certificate_from_row).collect()
    }

    async fn completeness_counts(
        &self,
        tenant: &TenantId,
        started_from: Option<DateTime<Utc>>,
    ) -> Result<CertificateCounts, CatalogError> {
        let rows = sqlx::query(
            "SELECT verdict, COUNT(*) AS count FROM completeness_certificates \
             WHERE tenant_id = $1 AND started_at >= $2 GROUP BY verdict",
        )
        .bind(tenant.as_str())
        .bind(started_from.as_ref().map_or(i64::MIN, to_millis))
        .fetch_all(&self.pool)
        .await?;
        let mut counts = CertificateCounts::default();
        for row in &rows {
            let count = read::unsigned("completeness_certificates.count", row.try_get("count")?)?;
            match verdict(
                "completeness_certificates.verdict",
                &row.try_get::<String, _>("verdict")?,
            )? {
                CompletenessVerdict::Complete => counts.complete = count,
                CompletenessVerdict::Gaps => counts.gaps = count,
            }
        }
        Ok(counts)
    }
}
