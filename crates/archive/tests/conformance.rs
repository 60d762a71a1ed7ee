//! One suite every region store must pass: the in-memory twin and the local filesystem here;
//! S3 (SeaweedFS) and Azure Blob (Azurite) join when those backends are built in.

use chrono::{DateTime, Utc};
use model::{RecordingId, RegionId, StreamLabel, TenantId};
use onrecord_archive::{ArchiveError, ObjectKey, Placement, RegionStore, Spool, StoreLocation};
use seal::{ContainerHeader, DEFAULT_CHUNK_SIZE, DataKey, SealedBytes};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn sealed(
    recording: RecordingId,
    label: &StreamLabel,
    plaintext: &[u8],
) -> Result<(DataKey, SealedBytes), Box<dyn std::error::Error>> {
    let mut rng = rand::rng();
    let key = DataKey::generate(&mut rng);
    let header = ContainerHeader::new(recording, label.clone(), "audio/wav", DEFAULT_CHUNK_SIZE)?;
    let bytes = seal::seal_container(&key, header, plaintext, &mut rng)?;
    Ok((key, bytes))
}

type Ids = (TenantId, RegionId, RecordingId, StreamLabel, DateTime<Utc>);

fn ids() -> Result<Ids, Box<dyn std::error::Error>> {
    Ok((
        TenantId::new("acme")?,
        RegionId::new("eu-west")?,
        RecordingId::from_parts(1_764_324_000_000, [3; 10]),
        StreamLabel::new("original")?,
        "2026-11-28T10:00:00Z".parse()?,
    ))
}

async fn put_get_range_delete(store: &RegionStore) -> TestResult {
    let (tenant, region, recording, label, started) = ids()?;
    let placement = Placement {
        tenant: tenant.clone(),
        region,
    };
    let key = ObjectKey::for_stream(&tenant, started, recording, &label);
    let plaintext = vec![0x5a; 200_000];
    let (data_key, bytes) = sealed(recording, &label, &plaintext)?;
    let expected = bytes.as_bytes().to_vec();

    let stored = store.put(&placement, &key, bytes).await?;
    assert_eq!(stored.size, expected.len() as u64);
    assert_eq!(store.size(&placement, &key).await?, expected.len() as u64);
    let read = store.get(&placement, &key).await?;
    assert_eq!(read.as_ref(), expected.as_slice());
    let (_, opened) = seal::open_container(&data_key, &read)?;
    assert_eq!(opened, plaintext);
    let middle = store.get_range(&placement, &key, 100..164).await?;
    assert_eq!(middle.as_ref(), &expected[100..164]);

    store.delete(&placement, &key).await?;
    assert!(matches!(
        store.get(&placement, &key).await,
        Err(ArchiveError::NotFound { .. })
    ));
    // Erasure is idempotent.
    store.delete(&placement, &key).await?;
    store.make_durable().await?;
    Ok(())
}

async fn refuses_another_regions_tenant(store: &RegionStore) -> TestResult {
    let (tenant, _, recording, label, started) = ids()?;
    let pinned_elsewhere = Placement {
        tenant: tenant.clone(),
        region: RegionId::new("us-east")?,
    };
    let key = ObjectKey::for_stream(&tenant, started, recording, &label);
    let (_, bytes) = sealed(recording, &label, b"audio")?;
    let error = store.put(&pinned_elsewhere, &key, bytes).await.err();
    assert!(
        matches!(error, Some(ArchiveError::RegionMismatch { .. })),
        "{error:?}"
    );
    assert!(matches!(
        store.get(&pinned_elsewhere, &key).await,
        Err(ArchiveError::RegionMismatch { .. })
    ));
    Ok(())
}

async fn refuses_keys_of_another_tenant(store: &RegionStore) -> TestResult {
    let (tenant, region, recording, label, started) = ids()?;
    let other = TenantId::new("globex")?;
    let placement = Placement { tenant, region };
    let key = ObjectKey::for_stream(&other, started, recording, &label);
    let (_, bytes) = sealed(recording, &label, b"audio")?;
    let error = store.put(&placement, &key, bytes).await.err();
    assert!(
        matches!(error, Some(ArchiveError::TenantMismatch { .. })),
        "{error:?}"
    );
    Ok(())
}

async fn spool_stages_then_publishes(
    store: &RegionStore,
    spool_root: &std::path::Path,
) -> TestResult {
    let (tenant, region, recording, label, started) = ids()?;
    let placement = Placement {
        tenant: tenant.clone(),
        region,
    };
    let key = ObjectKey::for_stream(&tenant, started, recording, &label);
    let spool = Spool::open(spool_root)?;
    let mut rng = rand::rng();
    let data_key = DataKey::generate(&mut rng);
    let header = ContainerHeader::new(recording, label.clone(), "rtp/pcmu", 1024)?;
    let mut writer = seal::ContainerWriter::new(&data_key, header, &mut rng)?;
    let mut staged = spool.create_stream(&key)?;
    let plaintext: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    for piece in plaintext.chunks(700) {
        staged.append(&writer.push(piece)?)?;
    }
    staged.append(&writer.finish()?)?;
    assert_eq!(
        spool.leftovers()?.len(),
        1,
        "a stream in progress is visible to crash recovery"
    );
    let (stored, digest) = staged.publish(store, &placement).await?;
    assert!(spool.leftovers()?.is_empty());
    let read = store.get(&placement, &stored.key).await?;
    assert_eq!(digest, *blake3::hash(&read).as_bytes());
    let (_, opened) = seal::open_container(&data_key, &read)?;
    assert_eq!(opened, plaintext);
    Ok(())
}

async fn suite(store: RegionStore) -> TestResult {
    let spool = tempfile::tempdir()?;
    put_get_range_delete(&store).await?;
    refuses_another_regions_tenant(&store).await?;
    refuses_keys_of_another_tenant(&store).await?;
    spool_stages_then_publishes(&store, spool.path()).await?;
    Ok(())
}

#[tokio::test]
async fn in_memory_store_passes_the_conformance_suite() -> TestResult {
    suite(RegionStore::in_memory(RegionId::new("eu-west")?)).await
}

#[tokio::test]
async fn local_filesystem_store_passes_the_conformance_suite() -> TestResult {
    let root = tempfile::tempdir()?;
    let store = RegionStore::open(
        RegionId::new("eu-west")?,
        StoreLocation::LocalDir(root.path().join("store")),
    )?;
    suite(store).await
}

#[test]
fn store_urls_parse_and_unsupported_schemes_say_why() -> TestResult {
    assert_eq!(StoreLocation::parse("memory:")?, StoreLocation::Memory);
    assert_eq!(
        StoreLocation::parse("file:///var/lib/onrecord/store")?,
        StoreLocation::LocalDir("/var/lib/onrecord/store".into())
    );
    let error = StoreLocation::parse("s3://bucket/prefix")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("scale-out"), "{error}");
    assert!(StoreLocation::parse("ftp://x").is_err());
    Ok(())
}
