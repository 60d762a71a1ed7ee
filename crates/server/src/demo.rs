//! `onrecord demo`: a throwaway data dir with a demo tenant and a few imported calls, one of
//! them refused for missing consent evidence, so a newcomer sees the archive and the gate;
//! then (unless `--no-serve`) the SIPREC recording server on loopback with the built-in
//! recording client placing live calls (one refused), and the web UI and API on loopback with
//! a token to sign in with, until Ctrl-C.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use catalog::RecordingFilter;
use model::{ConsentPolicy, RegionId, TenantId};

use crate::app::App;
use crate::datadir::DataDir;
use crate::import::{ImportRequest, import};
use crate::tenants::{self, NewTenant};
use crate::{readback, synth};

pub async fn run(
    dir: Option<PathBuf>,
    serve: Option<std::net::SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let root = match dir {
        Some(dir) => dir,
        None => tempfile::Builder::new()
            .prefix("onrecord-demo-")
            .tempdir()?
            .keep(),
    };
    let data_dir = DataDir::new(root.join("data"));
    let tenant = TenantId::new("demo")?;
    tenants::create(
        &data_dir,
        "demo".into(),
        NewTenant {
            id: tenant.clone(),
            region: RegionId::new("local")?,
            policy: ConsentPolicy::AllParty,
            purpose: "quality assurance of the demo contact centre".into(),
            legal_basis: "legitimate interests".into(),
            retention_days: 90,
            staff: vec!["sip:*@contact.example.com".into()],
        },
    )
    .await?;
    crate::demo_live::allow_client(&data_dir, &tenant)?;
    let input = root.join("calls");
    std::fs::create_dir_all(&input)?;
    for index in 0..3u64 {
        let audio = synth::two_party_mulaw_wav(20, index + 1);
        let started = format!("2026-11-28T10:0{index}:00Z");
        synth::write_call(
            &input,
            &format!("call-{index}"),
            &audio,
            &synth::sidecar(&format!("demo-{index}"), &started, true),
        )?;
    }
    let audio = synth::two_party_mulaw_wav(20, 99);
    synth::write_call(
        &input,
        "call-without-consent",
        &audio,
        &synth::sidecar("demo-refused", "2026-11-28T10:05:00Z", false),
    )?;

    let app = App::open(data_dir.clone(), "demo".into()).await?;
    let summary = import(
        &app,
        ImportRequest {
            tenant: tenant.clone(),
            paths: vec![input],
            batch_size: 64,
            workers: 2,
            progress: false,
        },
    )
    .await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "demo data dir: {}", data_dir.root().display())?;
    writeln!(
        out,
        "imported {}, refused {} (the consent gate at work):",
        summary.imported.len(),
        summary.refused.len()
    )?;
    for refused in &summary.refused {
        writeln!(
            out,
            "  refused {}: {}",
            refused.file.display(),
            refused.reason
        )?;
    }
    let filter = RecordingFilter {
        tenant: Some(tenant.clone()),
        ..Default::default()
    };
    for detail in readback::list(&app, filter, 100).await? {
        writeln!(
            out,
            "  {}  {}  {:.0}s",
            detail.recording.id,
            detail.recording.started_at,
            detail.recording.duration_ms as f64 / 1000.0
        )?;
    }
    let flag = format!("--data-dir {}", data_dir.root().display());
    writeln!(
        out,
        "try: onrecord {flag} list | onrecord {flag} show ID | onrecord {flag} export ID --out ./out | onrecord {flag} audit verify"
    )?;
    let Some(address) = serve else {
        return Ok(());
    };
    let token = crate::http::tokens::create(
        &app,
        Some(TenantId::new("demo")?),
        catalog::TokenRole::Admin,
        "demo".into(),
    )
    .await?;
    let operator =
        crate::http::tokens::create(&app, None, catalog::TokenRole::Operator, "demo".into())
            .await?;
    drop(out);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let live = crate::demo_live::record_calls(&app, &tenant, until_stopped()).await?;
    let (bound, server) = crate::http::start(app, address, until_stopped()).await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "recording server on SIP {}: recorded {} live calls through the built-in client, refused {}:",
        live.sip,
        live.recorded,
        live.refused.len()
    )?;
    for refused in &live.refused {
        writeln!(out, "  refused: {refused}")?;
    }
    writeln!(out, "operator token: {operator}")?;
    writeln!(out, "url: http://{bound}/")?;
    writeln!(out, "token: {token}")?;
    writeln!(
        out,
        "open the url, sign in with the token; Ctrl-C stops the demo"
    )?;
    out.flush()?;
    drop(out);
    server.await??;
    live.server.await??;
    Ok(())
}
