//! The demo's live part: the SIPREC recording server on loopback and the built-in recording
//! client placing a few consented calls (two parties with recognisably different voices) and
//! one without evidence, which the consent gate refuses.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use catalog::{RecordingFilter, RecordingSource};
use chrono::SecondsFormat;
use model::TenantId;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::datadir::DataDir;
use crate::live::client::{self, Call, Outcome, Party};
use crate::live::server::{ServeOptions, serve};

/// Seconds of audio in each demo call.
const CALL_SECONDS: u32 = 12;

/// Lets the demo's recording client send calls for the demo tenant.
pub fn allow_client(data_dir: &DataDir, tenant: &TenantId) -> Result<()> {
    let path = data_dir.config_path();
    let mut config = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    config.push_str(&format!(
        "\n# The demo's built-in recording client.\n[[srcs]]\nname = \"demo-client\"\naddress = \"127.0.0.1\"\ntenant = \"{tenant}\"\n"
    ));
    std::fs::write(&path, config).with_context(|| format!("cannot write {}", path.display()))
}

fn party(address: &str, name: &str, pitch: f32, syllables: f32, consent: bool) -> Party {
    Party {
        address: address.into(),
        name: name.into(),
        pitch,
        syllables,
        consent: consent.then_some("prompt-recording-notice-v2"),
    }
}

/// What the live part did.
#[derive(Debug)]
pub struct LiveDemo {
    pub sip: SocketAddr,
    pub recorded: usize,
    pub refused: Vec<String>,
    pub server: JoinHandle<Result<()>>,
}

/// Starts the recording server (until `shutdown`), places the demo calls and waits until the
/// recorded ones are in the catalog.
pub async fn record_calls(
    app: &App,
    tenant: &TenantId,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<LiveDemo> {
    let base = 30_000 + (std::process::id() % 250) as u16 * 100;
    let options = ServeOptions {
        sip: ([127, 0, 0, 1], 0).into(),
        rtp_ports: (base, base + 99),
        media_address: [127, 0, 0, 1].into(),
        media_workers: 1,
        rtp_timeout: Duration::from_secs(10),
        commit_delay: Duration::from_millis(200),
        max_sessions: 100,
    };
    let (ready, listening) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(serve(app.clone(), options, shutdown, Some(ready)));
    let sip = listening
        .await
        .map_err(|_| anyhow!("the recording server did not start"))?
        .sip;
    let at = app.clock.wall().to_rfc3339_opts(SecondsFormat::Secs, true);
    let calls = [
        Call {
            parties: [
                party("tel:+441632960101", "Bea Caller", 165.0, 3.0, true),
                party(
                    "sip:agent3@contact.example.com",
                    "Agent 3",
                    245.0,
                    5.5,
                    false,
                ),
            ],
            seconds: CALL_SECONDS,
            lost: None,
        },
        Call {
            parties: [
                party("tel:+441632960102", "Cal Caller", 120.0, 2.2, true),
                party(
                    "sip:agent9@contact.example.com",
                    "Agent 9",
                    310.0,
                    6.5,
                    false,
                ),
            ],
            seconds: CALL_SECONDS,
            lost: None,
        },
        // No evidence for the customer: the all-party policy refuses it.
        Call {
            parties: [
                party("tel:+441632960103", "Dee Unannounced", 140.0, 3.0, false),
                party(
                    "sip:agent5@contact.example.com",
                    "Agent 5",
                    220.0,
                    4.5,
                    false,
                ),
            ],
            seconds: 1,
            lost: None,
        },
    ];
    let placed =
        futures::future::join_all(calls.iter().map(|call| client::place(sip, call, &at))).await;
    let mut recorded = 0;
    let mut refused = Vec::new();
    for outcome in placed {
        match outcome? {
            Outcome::Recorded { .. } => recorded += 1,
            Outcome::Refused { status, warning } => refused.push(format!("{status} {warning}")),
        }
    }
    // The committer writes finished calls in groups; wait until both are visible.
    for _ in 0..100 {
        let page = app
            .catalog
            .list_recordings(
                &RecordingFilter {
                    tenant: Some(tenant.clone()),
                    ..Default::default()
                },
                &catalog::PageRequest::first(100),
            )
            .await?;
        let live = page
            .items
            .iter()
            .filter(|recording| recording.source == RecordingSource::Siprec)
            .count();
        if live >= recorded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(LiveDemo {
        sip,
        recorded,
        refused,
        server,
    })
}
