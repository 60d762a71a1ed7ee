//! Builders for conformance cases, benchmarks and other crates' tests.

use chrono::{DateTime, Duration, Utc};
use model::{
    ConsentEvidence, ConsentKind, ConsentPolicy, Direction, EvidenceSource, Pii, RecordingId,
    RegionId, StreamLabel, TenantId,
};
use serde_json::json;

use crate::audit::AuditNote;
use crate::types::{NewRecording, Participant, RecordingSource, Stream, Tenant};
use crate::{AuditEntry, Catalog};

/// 2026-11-28T10:00:00.123456789Z: sub-millisecond digits on purpose, the catalog keeps
/// milliseconds.
pub fn base_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_860_000, 123_456_789).unwrap_or_default()
}

pub fn tenant_id(id: &str) -> TenantId {
    TenantId::new(id).expect("fixture tenant id is a valid slug")
}

pub fn region_id(id: &str) -> RegionId {
    RegionId::new(id).expect("fixture region id is a valid slug")
}

pub fn note(action: &str) -> AuditNote {
    AuditNote::new("cli:root", action, json!({ "case": "conformance" }))
}

/// A tenant in region `eu-west`.
pub fn sample_tenant(id: &str) -> Tenant {
    Tenant {
        id: tenant_id(id),
        region: region_id("eu-west"),
        consent_policy: ConsentPolicy::AllParty,
        purpose: "quality assurance and dispute resolution".into(),
        legal_basis: "legitimate interest (GDPR art. 6(1)(f))".into(),
        retention_days: 365,
        public_key: format!("hpke-x25519:{id}-public-key"),
        created_at: base_time(),
    }
}

pub async fn register(catalog: &dyn Catalog, id: &str) -> AuditEntry {
    catalog
        .register_tenant(&sample_tenant(id), &note("tenant.created"))
        .await
        .expect("registering a fresh tenant succeeds")
}

/// A distinct content hash for `(tenant, index)`.
pub fn content_hash(tenant: &str, index: u32) -> [u8; 32] {
    let mut hash = [0u8; 32];
    hash[..4].copy_from_slice(&index.to_be_bytes());
    for (slot, byte) in hash[4..].iter_mut().zip(tenant.bytes()) {
        *slot = byte;
    }
    hash
}

/// A committed-import-shaped recording of a two-party call, distinct per `(tenant, index)`;
/// started `index` minutes after [`base_time`].
pub fn sample_recording(tenant: &str, index: u32) -> NewRecording {
    let started_at = base_time() + Duration::minutes(i64::from(index));
    let mut random = [0u8; 10];
    random[..4].copy_from_slice(&index.to_be_bytes());
    for (slot, byte) in random[4..].iter_mut().zip(tenant.bytes()) {
        *slot = byte;
    }
    let id = RecordingId::from_parts(
        u64::try_from(started_at.timestamp_millis()).unwrap_or_default(),
        random,
    );
    let evidence = |kind, source, reference: &str| ConsentEvidence {
        kind,
        at: Some(started_at + Duration::microseconds(5_000_250)),
        reference: reference.into(),
        source,
    };
    let stream = |label: &str| Stream {
        label: StreamLabel::new(label).expect("fixture label is valid"),
        content_type: "audio/wav".into(),
        codec: "wav/pcm_mulaw".into(),
        duration_ms: 180_000,
        plaintext_size: 1_440_044,
        plaintext_sha256: [0x11; 32],
        object_key: format!("{tenant}/2026/11/28/{id}/{label}.orc"),
        object_size: 1_441_000,
        object_sha256: [0x22; 32],
        region: region_id("eu-west"),
    };
    NewRecording {
        id,
        tenant: tenant_id(tenant),
        source: RecordingSource::Import,
        external_id: Some(format!("call-{index:05}.wav")),
        started_at,
        duration_ms: 180_000,
        direction: if index.is_multiple_of(2) {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        tags: vec![
            "sales".into(),
            format!("batch-{}", index % 3),
            "sales".into(),
        ],
        content_hash: content_hash(tenant, index),
        details: json!({ "format": "wav", "sample_rate": 8000, "channels": 2 }),
        created_at: base_time() + Duration::hours(1),
        participants: vec![
            Participant {
                ordinal: 1,
                address: Pii::new("sip:agent-7@contact.example.com".into()),
                name: Some(Pii::new("Agent Seven".into())),
                role: "agent".into(),
                evidence: vec![ConsentEvidence {
                    kind: ConsentKind::Employment,
                    at: None,
                    reference: "sip:*@contact.example.com".into(),
                    source: EvidenceSource::StaffPolicy,
                }],
            },
            Participant {
                ordinal: 0,
                address: Pii::new(format!("tel:+4416329600{:02}", index % 100)),
                name: None,
                role: "caller".into(),
                evidence: vec![
                    evidence(
                        ConsentKind::Announcement,
                        EvidenceSource::ImportSidecar,
                        "prompt-recording-notice-v2",
                    ),
                    evidence(
                        ConsentKind::Verbal,
                        EvidenceSource::ImportSidecar,
                        "ivr-consent-7",
                    ),
                ],
            },
        ],
        streams: vec![stream("right"), stream("left")],
        sealed_key: vec![0xa5; 80],
        audit: AuditNote::new(
            "cli:root",
            "import.accepted",
            json!({ "file": format!("call-{index:05}.wav") }),
        ),
        certificate: None,
    }
}
