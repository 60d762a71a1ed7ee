//! Command-line arguments, parsed raw by clap and then validated into typed values.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use catalog::RecordingFilter;
use clap::{Parser, Subcommand};
use model::{ConsentPolicy, RecordingId, RegionId, TenantId};

use crate::app::{App, cli_actor};
use crate::datadir::{DATA_DIR_ENV, DEFAULT_DATA_DIR, DataDir};
use crate::import::{ImportRequest, ImportSummary};
use crate::{bench, demo, readback, tenants};

#[derive(Debug, Parser)]
#[command(
    name = "onrecord",
    version,
    about = "Consent-first call recording server and encrypted archive"
)]
pub struct Cli {
    /// Where everything lives: config.toml, the catalog, the keyring, the local store.
    #[arg(long, global = true, env = DATA_DIR_ENV, default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or list tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Import existing recordings (audio files with a JSON sidecar each).
    Import {
        #[arg(long)]
        tenant: String,
        /// Audio files or folders (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Recordings per catalog transaction.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Files worked on at once (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List recordings, newest first.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one recording: participants, consent evidence, streams, sizes, digests.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Decrypt a recording's original audio and metadata into a folder (ID --out DIR), or
    /// every recording of a data subject into one signed zip (--tenant --participant --out FILE.zip).
    Export {
        /// The recording to export into the folder --out.
        #[arg(
            required_unless_present = "participant",
            conflicts_with_all = ["participant", "tenant", "json"]
        )]
        id: Option<String>,
        /// A folder (with ID), or the zip file to create (with --participant).
        #[arg(long)]
        out: PathBuf,
        /// Subject access: the tenant whose recordings are searched.
        #[arg(long, requires = "participant")]
        tenant: Option<String>,
        /// Subject access: every recording of the tenant in which this address took part.
        #[arg(long, requires = "tenant")]
        participant: Option<String>,
        /// Subject access: print the export summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run the SIPREC recording server until interrupted (SIGINT/SIGTERM finalise calls in progress).
    Serve {
        /// SIP over UDP and TCP (default: config `server.sip`, else 0.0.0.0:5060).
        #[arg(long)]
        sip: Option<std::net::SocketAddr>,
        /// RTP port range, e.g. 40000-49999 (default: config `server.rtp_ports`, else 40000-49999).
        #[arg(long)]
        rtp_ports: Option<String>,
        /// Address put in SDP answers (default: config `server.media_address`, else the SIP address).
        #[arg(long)]
        media_address: Option<std::net::IpAddr>,
        /// End a call whose streams all stay silent this many seconds (outside pauses and holds).
        #[arg(long, default_value_t = 30)]
        rtp_timeout: u64,
        /// RTP receive threads (default: one per core).
        #[arg(long)]
        media_workers: Option<usize>,
        /// Most calls in progress at once; beyond it new calls get 503.
        #[arg(long, default_value_t = 50_000)]
        max_calls: usize,
        /// Whisper model directory for the transcription worker (default: config
        /// `transcription.model`; no worker without one).
        #[arg(long)]
        transcription_model: Option<PathBuf>,
        /// Also serve the HTTP API and web UI here, e.g. 127.0.0.1:8080 (default: config `server.http`, else none).
        #[arg(long)]
        http: Option<std::net::SocketAddr>,
        /// Seconds between signed audit checkpoints and transparency log updates (0: only at
        /// shutdown).
        #[arg(long, default_value_t = 300)]
        checkpoint_interval: u64,
    },
    /// Benchmarks, each against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Legal holds: a held recording cannot be erased by anything.
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Crypto-shred recordings (sealed keys first, then objects) with a signed receipt each.
    Erase {
        #[arg(long)]
        tenant: String,
        #[arg(long, conflicts_with = "participant")]
        recording: Option<String>,
        /// Every recording of the tenant with a participant at this address.
        #[arg(long)]
        participant: Option<String>,
        #[arg(long, default_value = "erasure request")]
        reason: String,
        /// Print the receipts and blocked recordings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A throwaway data dir with a demo tenant and imported calls, to look around.
    Demo {
        /// Where to put it (default: a new temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Where the demo serves its web UI and API (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: std::net::SocketAddr,
        /// Set up the data dir and exit instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// API tokens for the HTTP API and web UI.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Transcribe recordings: every queued job (--pending) or one recording (ID).
    Transcribe {
        /// The recording to transcribe now (re-runs a finished or failed job).
        #[arg(required_unless_present = "pending", conflicts_with = "pending")]
        id: Option<String>,
        /// Run every queued job (and queue committed recordings that have none).
        #[arg(long)]
        pending: bool,
        /// Whisper model directory (default: $ONRECORD_MODEL_DIR, else DATA_DIR/models/tiny.en).
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Search a tenant's transcripts: words, "phrases", AND/OR/NOT.
    Search {
        #[arg(long)]
        tenant: String,
        query: String,
        /// Recordings started at or after (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Recordings started before (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// Recordings in which this address took part.
        #[arg(long)]
        participant: Option<String>,
        /// Recordings carrying this tag (repeatable).
        #[arg(long)]
        tag: Vec<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild a tenant's search index from the archive and catalog.
    Reindex {
        #[arg(long)]
        tenant: String,
    },
    /// Governance reports for the operator: completeness, and content-blind transparency with
    /// proofs anyone can check offline.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Retention: erase expired recordings, show and raise minimum retention.
    #[command(subcommand)]
    Retention(crate::governance::retention_cli::RetentionCommand),
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Calls whose completeness certificate found gaps (lost packets, pauses, holds,
    /// missing streams, metadata gaps), with a summary.
    Completeness {
        #[arg(long)]
        tenant: String,
        /// Recordings started at or after (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        /// List complete calls too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Per tenant and region: recordings, consent-evidence coverage, refusals, erasures, holds,
    /// and a signed tree head of the transparency log. Never content or personal data.
    Transparency {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
        /// Instead: the recording's log leaves with inclusion proofs (RFC 9162 §2.1.3).
        #[arg(long, conflicts_with_all = ["consistency_from", "tenant"])]
        prove: Option<String>,
        /// Instead: a consistency proof (RFC 9162 §2.1.4) from the tree head in this earlier
        /// report (or proof) to the current one.
        #[arg(long, conflicts_with = "tenant")]
        consistency_from: Option<PathBuf>,
    },
    /// Verify an inclusion or consistency proof offline (no data dir, no tenant key).
    VerifyTransparency {
        #[arg(
            long,
            required_unless_present = "consistency",
            conflicts_with = "consistency"
        )]
        inclusion: Option<PathBuf>,
        #[arg(long)]
        consistency: Option<PathBuf>,
        /// The node's Ed25519 public key (hex); default: this data dir's node key.
        #[arg(long)]
        public_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token; prints it alone on stdout (it is shown once, only its digest is kept).
    Create {
        /// The tenant the token reads (not with --operator).
        #[arg(
            long,
            required_unless_present = "operator",
            conflicts_with = "operator"
        )]
        tenant: Option<String>,
        /// viewer | supervisor | auditor | admin
        #[arg(
            long,
            required_unless_present = "operator",
            conflicts_with = "operator"
        )]
        role: Option<String>,
        /// A token for the operator: content-blind figures of every tenant, never content.
        #[arg(long)]
        operator: bool,
        /// A note on what the token is for.
        #[arg(long, default_value = "")]
        label: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Declare a tenant and create its key pair.
    Create {
        id: String,
        #[arg(long, default_value = "local")]
        region: String,
        #[arg(long)]
        policy: String,
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        legal_basis: String,
        #[arg(long, default_value_t = 365)]
        retention_days: u32,
        /// Staff address pattern covered by employment agreements, e.g. 'sip:*@contact.example.com' (repeatable).
        #[arg(long)]
        staff: Vec<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and every signed checkpoint; exit non-zero naming the first bad
    /// entry or checkpoint (a cut-off tail, a rewritten history, a forged checkpoint).
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Sign a checkpoint of the chain's head now (appended to DATA_DIR/audit/checkpoints.jsonl).
    Checkpoint {
        #[arg(long)]
        json: bool,
    },
    /// Write entries FROM..=TO with a signed checkpoint pinning the last, for offline checks.
    Export {
        #[arg(long)]
        from: u64,
        /// Default: the last entry.
        #[arg(long)]
        to: Option<u64>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an exported excerpt offline (no catalog needed).
    VerifyExcerpt {
        file: PathBuf,
        /// The node's Ed25519 public key (hex); default: this data dir's node key.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Verify a signed erasure receipt offline (no catalog, no tenant key).
    VerifyReceipt {
        file: PathBuf,
        /// The node's Ed25519 public key (hex); default: this data dir's node key.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Print the node's Ed25519 public key (hex), creating the key on first use.
    NodeKey,
    /// Verify a subject access bundle offline: signature, every file's size and SHA-256, no
    /// unlisted file.
    VerifyBundle {
        file: PathBuf,
        /// The node's Ed25519 public key (hex); default: this data dir's node key.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Verify a signed completeness certificate offline (a certificate or `show --json` output).
    VerifyCertificate {
        file: PathBuf,
        /// The node's Ed25519 public key (hex); default: this data dir's node key.
        #[arg(long)]
        public_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Place a hold on a recording, a participant (also their later recordings) or a query.
    Set(HoldArgs),
    /// Release the active holds with exactly this scope.
    Release(HoldArgs),
    /// Holds, active only unless --all.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct HoldArgs {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub recording: Option<String>,
    #[arg(long)]
    pub participant: Option<String>,
    /// Query hold: recordings started at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Query hold: recordings started before this time (RFC 3339).
    #[arg(long)]
    pub before: Option<String>,
    /// Query hold: recordings with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long)]
    pub reason: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Record N live calls from the built-in recording client; compare with a bare receive loop.
    Rtp {
        #[arg(long, default_value_t = 1000)]
        calls: usize,
        /// Seconds of each measured phase.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[arg(long)]
        json: bool,
    },
    /// Import N synthetic 3-minute two-party G.711 calls; compare with read + AES-256-GCM + write.
    Import {
        #[arg(long, default_value_t = 500)]
        calls: usize,
        #[arg(long)]
        json: bool,
        /// Work in this folder instead of a temporary one.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Real-time factor of transcription per model and device (synthetic audio).
    Transcribe {
        #[arg(long)]
        json: bool,
        /// A model directory to measure (repeatable; default: tiny.en and base under
        /// $ONRECORD_MODELS, else target/models).
        #[arg(long)]
        model: Vec<PathBuf>,
        /// Seconds of audio per model.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// cpu, or cuda[:N] (needs a build with the `cuda` feature).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Skip the shape-exact large-v3-turbo model with random weights.
        #[arg(long)]
        no_turbo: bool,
    },
    /// Erase one participant across N recordings (crypto-shred, receipts, audit) beside
    /// deleting the same rows and objects without crypto-shredding.
    Erase {
        #[arg(long, default_value_t = 100_000)]
        recordings: u64,
        #[arg(long)]
        json: bool,
        /// Work in this folder instead of a temporary one.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The HTTP API over N synthetic recordings: search and first audio byte, beside the
    /// same work done without HTTP.
    Api {
        #[arg(long, default_value_t = 100_000)]
        recordings: u64,
        #[arg(long)]
        json: bool,
        /// Work in this folder instead of a temporary one.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

fn parse_tenant(text: &str) -> Result<TenantId> {
    TenantId::new(text).map_err(|e| anyhow!("--tenant: {e}"))
}

fn parse_recording(text: &str) -> Result<RecordingId> {
    text.parse().map_err(|e| anyhow!("{e}"))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Runs the command line; returns the process exit code.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    let data_dir = DataDir::new(&cli.data_dir);
    let runtime = runtime()?;
    runtime.block_on(dispatch(cli.command, data_dir))
}

async fn dispatch(command: Command, data_dir: DataDir) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Tenant(TenantCommand::Create {
            id,
            region,
            policy,
            purpose,
            legal_basis,
            retention_days,
            staff,
        }) => {
            let tenant = tenants::NewTenant {
                id: TenantId::new(&id)?,
                region: RegionId::new(&region).map_err(|e| anyhow!("--region: {e}"))?,
                policy: policy
                    .parse::<ConsentPolicy>()
                    .map_err(|e| anyhow!("--policy: {e}"))?,
                purpose,
                legal_basis,
                retention_days,
                staff,
            };
            let created = tenants::create(&data_dir, cli_actor(), tenant).await?;
            writeln!(
                out,
                "created tenant {} in region {} ({} policy)",
                created.id, created.region, created.consent_policy
            )?;
        }
        Command::Tenant(TenantCommand::List { json }) => {
            let app = App::open(data_dir, cli_actor()).await?;
            let registered = app.catalog.tenants().await?;
            let rows: Vec<_> = app
                .config
                .tenants
                .values()
                .map(|t| {
                    serde_json::json!({
                        "id": t.id, "region": t.region, "policy": t.policy.as_str(),
                        "purpose": t.purpose, "legal_basis": t.legal_basis,
                        "retention_days": t.retention_days, "staff": t.staff_patterns,
                        "registered": registered.iter().any(|r| r.id == t.id),
                        "private_key_here": app.data_dir.keyring().has(&t.id),
                    })
                })
                .collect();
            if json {
                print_json(&rows)?;
            } else {
                for t in &app.config.tenants {
                    writeln!(
                        out,
                        "{}\tregion={}\tpolicy={}\tretention={}d",
                        t.0, t.1.region, t.1.policy, t.1.retention_days
                    )?;
                }
            }
        }
        Command::Import {
            tenant,
            paths,
            batch,
            workers,
            json,
        } => {
            let app = App::open(data_dir, cli_actor()).await?;
            let request = ImportRequest {
                tenant: parse_tenant(&tenant)?,
                paths,
                batch_size: batch,
                workers: workers.unwrap_or_else(default_workers),
                progress: !json && std::io::stderr().is_terminal(),
            };
            let summary = crate::import::import(&app, request).await?;
            if json {
                print_json(&summary)?;
            } else {
                print_summary(&summary)?;
            }
            return Ok(if summary.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        Command::List {
            tenant,
            limit,
            json,
        } => {
            let app = App::open(data_dir, cli_actor()).await?;
            let filter = RecordingFilter {
                tenant: tenant.as_deref().map(parse_tenant).transpose()?,
                ..Default::default()
            };
            let found = readback::list(&app, filter, limit).await?;
            if json {
                print_json(
                    &found
                        .iter()
                        .map(readback::recording_json)
                        .collect::<Vec<_>>(),
                )?;
            } else {
                for detail in &found {
                    let r = &detail.recording;
                    writeln!(
                        out,
                        "{}  {}  {}  {:>7.1}s  {}  {} participants",
                        r.id,
                        r.tenant,
                        r.started_at.format("%Y-%m-%d %H:%M:%S"),
                        r.duration_ms as f64 / 1000.0,
                        r.state,
                        detail.participants.len()
                    )?;
                }
            }
        }
        Command::Show { id, json } => {
            let app = App::open(data_dir, cli_actor()).await?;
            let detail = readback::show(&app, parse_recording(&id)?).await?;
            let mut value = readback::recording_json(&detail);
            crate::governance::cli::annotate_show(&app, &detail, &mut value).await?;
            crate::completeness::cli::annotate_show(&app, &detail, &mut value).await?;
            let (transcription, transcript) =
                crate::transcription::show_json(&app, &detail).await?;
            value["transcription"] = transcription;
            value["transcript"] = transcript;
            if json {
                print_json(&value)?;
            } else {
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            }
        }
        Command::Export {
            id: Some(id),
            out: folder,
            ..
        } => {
            let app = App::open(data_dir, cli_actor()).await?;
            for path in readback::export(&app, parse_recording(&id)?, &folder).await? {
                writeln!(out, "{}", path.display())?;
            }
        }
        Command::Export {
            id: None,
            out: file,
            tenant,
            participant,
            json,
        } => {
            return crate::governance::cli::subject_access(
                data_dir,
                parse_tenant(tenant.as_deref().unwrap_or_default())?,
                participant.as_deref().unwrap_or_default(),
                &file,
                json,
            )
            .await;
        }
        Command::Audit(AuditCommand::Verify { json }) => {
            return crate::governance::transparency_cli::audit_verify(data_dir, json).await;
        }
        Command::Audit(AuditCommand::Checkpoint { json }) => {
            return crate::governance::transparency_cli::audit_checkpoint(data_dir, json).await;
        }
        Command::Audit(AuditCommand::Export { from, to, out }) => {
            return crate::governance::transparency_cli::audit_export(data_dir, from, to, &out)
                .await;
        }
        Command::Audit(AuditCommand::VerifyExcerpt { file, public_key }) => {
            return crate::governance::transparency_cli::audit_verify_excerpt(
                data_dir,
                &file,
                public_key.as_deref(),
            );
        }
        Command::Report(ReportCommand::Transparency {
            tenant,
            json,
            prove,
            consistency_from,
        }) => {
            return crate::governance::transparency_cli::report_transparency(
                data_dir,
                tenant.as_deref(),
                prove.as_deref(),
                consistency_from.as_deref(),
                json,
            )
            .await;
        }
        Command::Report(ReportCommand::VerifyTransparency {
            inclusion,
            consistency,
            public_key,
        }) => {
            return crate::governance::transparency_cli::verify_transparency(
                data_dir,
                inclusion.as_deref(),
                consistency.as_deref(),
                public_key.as_deref(),
            );
        }
        Command::Bench(BenchCommand::Api {
            recordings,
            json,
            dir,
        }) => {
            let report = crate::bench_api::api(recordings, dir).await?;
            if json {
                print_json(&report)?;
            } else {
                writeln!(out, "{}", report.human())?;
            }
        }
        Command::Bench(BenchCommand::Import { calls, json, dir }) => {
            let report = bench::import(calls, dir).await?;
            if json {
                print_json(&report)?;
            } else {
                writeln!(out, "{}", report.human())?;
            }
        }
        Command::Serve {
            sip,
            rtp_ports,
            media_address,
            rtp_timeout,
            media_workers,
            max_calls,
            transcription_model,
            http,
            checkpoint_interval,
        } => {
            let app = App::open(data_dir, cli_actor()).await?;
            let settings = app.config.server.clone();
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            let until_stopped = move || {
                let mut stopped = stopped.clone();
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                }
            };
            let (http_bound, http_server) = match http.or(settings.http) {
                Some(address) => {
                    let (bound, task) =
                        crate::http::start(app.clone(), address, until_stopped()).await?;
                    (Some(bound), Some(task))
                }
                None => (None, None),
            };
            let sip = sip
                .or(settings.sip)
                .unwrap_or_else(|| ([0, 0, 0, 0], 5060).into());
            let rtp_ports = match rtp_ports {
                Some(text) => crate::config::parse_port_range(&text)
                    .map_err(|e| anyhow!("--rtp-ports: {e}"))?,
                None => settings.rtp_ports.unwrap_or((40_000, 49_999)),
            };
            let media_address = media_address
                .or(settings.media_address)
                .or((!sip.ip().is_unspecified()).then_some(sip.ip()))
                .ok_or_else(|| anyhow!("SIP listens on every address: set --media-address (or server.media_address) to the address recording clients send RTP to"))?;
            if app.config.srcs.is_empty() {
                eprintln!(
                    "onrecord: warning: no [[srcs]] in config.toml: every recording client will be refused (403)"
                );
            }
            let options = crate::live::server::ServeOptions {
                sip,
                rtp_ports,
                media_address,
                media_workers: media_workers.unwrap_or_else(default_workers),
                rtp_timeout: std::time::Duration::from_secs(rtp_timeout.max(1)),
                commit_delay: std::time::Duration::from_millis(200),
                max_sessions: max_calls,
            };
            let (ready, listening) = tokio::sync::oneshot::channel::<crate::live::server::Ready>();
            let announce = tokio::spawn(async move {
                if let Ok(ready) = listening.await {
                    let address = ready.sip;
                    eprintln!(
                        "onrecord: recording server listening on SIP {address} (UDP and TCP), RTP {media_address} ports {}-{}",
                        rtp_ports.0, rtp_ports.1
                    );
                    if let Some(bound) = http_bound {
                        eprintln!("onrecord: HTTP API and web UI on http://{bound}/");
                    }
                }
            });
            let model = transcription_model.or_else(|| app.config.transcription.model.clone());
            let worker = match model {
                Some(directory) => {
                    let engine = crate::transcription::Engine::load(&directory)?;
                    eprintln!("onrecord: transcription worker on ({})", engine.name);
                    Some(tokio::spawn(crate::transcription::worker(
                        app.clone(),
                        engine,
                    )))
                }
                None => None,
            };
            let sweeper = app.config.retention.sweep_interval.map(|interval| {
                tokio::spawn(crate::governance::retention::sweeper(
                    app.clone(),
                    interval,
                    app.config.retention.sweep_delay,
                    until_stopped(),
                ))
            });
            let accountability = (checkpoint_interval > 0).then(|| {
                tokio::spawn(crate::governance::transparency_cli::periodic(
                    app.clone(),
                    std::time::Duration::from_secs(checkpoint_interval),
                ))
            });
            let app_after = app.clone();
            crate::live::server::serve(app, options, until_stopped(), Some(ready)).await?;
            announce.abort();
            if let Some(sweeper) = sweeper {
                // A sweep in progress finishes (receipts included) before the process ends.
                let _ = sweeper.await;
            }
            if let Some(task) = accountability {
                task.abort();
            }
            // The calls finalised and the recordings swept at shutdown are in the chain now:
            // log them and sign the head.
            crate::governance::transparency_cli::periodic_round(&app_after).await;
            if let Some(worker) = worker {
                worker.abort();
            }
            if let Some(task) = http_server {
                task.await??;
            }
            eprintln!("onrecord: stopped; calls in progress were finalised");
        }
        Command::Bench(BenchCommand::Rtp {
            calls,
            seconds,
            json,
        }) => {
            let report = bench::rtp::run(calls, seconds).await?;
            if json {
                print_json(&report)?;
            } else {
                writeln!(out, "{}", report.human())?;
            }
        }
        Command::Hold(command) => return crate::governance::cli::hold(data_dir, command).await,
        Command::Retention(command) => {
            return crate::governance::retention_cli::run(data_dir, command).await;
        }
        Command::Bench(BenchCommand::Erase {
            recordings,
            json,
            dir,
        }) => {
            let report = crate::bench_erase::erase(recordings, dir).await?;
            if json {
                print_json(&report)?;
            } else {
                writeln!(out, "{}", report.human())?;
            }
        }
        Command::Erase {
            tenant,
            recording,
            participant,
            reason,
            json,
        } => {
            return crate::governance::cli::erase(
                data_dir,
                parse_tenant(&tenant)?,
                recording.as_deref(),
                participant.as_deref(),
                &reason,
                json,
            )
            .await;
        }
        Command::Audit(AuditCommand::VerifyReceipt { file, public_key }) => {
            return crate::governance::cli::verify_receipt(data_dir, &file, public_key.as_deref());
        }
        Command::Audit(AuditCommand::VerifyBundle { file, public_key }) => {
            return crate::governance::cli::verify_bundle(data_dir, &file, public_key.as_deref());
        }
        Command::Audit(AuditCommand::VerifyCertificate { file, public_key }) => {
            return crate::completeness::cli::verify_certificate(
                data_dir,
                &file,
                public_key.as_deref(),
            );
        }
        Command::Report(ReportCommand::Completeness {
            tenant,
            since,
            all,
            json,
        }) => {
            let since = since
                .as_deref()
                .map(crate::transcription::cli::parse_time)
                .transpose()
                .map_err(|e| anyhow!("--since: {e}"))?;
            return crate::completeness::cli::report(
                data_dir,
                parse_tenant(&tenant)?,
                since,
                all,
                json,
            )
            .await;
        }
        Command::Audit(AuditCommand::NodeKey) => {
            let key = crate::nodekey::NodeKey::load_or_create(&data_dir.root().join("keyring"))?;
            writeln!(out, "{}", key.public_hex())?;
        }
        Command::Demo {
            dir,
            http,
            no_serve,
        } => {
            let serve = (!no_serve).then_some(http);
            demo::run(dir, serve, shutdown_signal()).await?;
        }
        Command::Token(TokenCommand::Create {
            tenant,
            role,
            operator,
            label,
        }) => {
            let app = App::open(data_dir, cli_actor()).await?;
            let (tenant, role) = if operator {
                (None, catalog::TokenRole::Operator)
            } else {
                let role_text = role.unwrap_or_default();
                let role = catalog::TokenRole::parse(&role_text)
                    .filter(|role| *role != catalog::TokenRole::Operator)
                    .ok_or_else(|| {
                        anyhow!(
                            "--role must be viewer, supervisor, auditor or admin, not {role_text:?}"
                        )
                    })?;
                let tenant = parse_tenant(tenant.as_deref().unwrap_or_default())?;
                app.tenant_config(&tenant)?;
                (Some(tenant), role)
            };
            let token = crate::http::tokens::create(&app, tenant, role, label).await?;
            writeln!(out, "{token}")?;
        }
        Command::Transcribe {
            id,
            pending,
            model,
            json,
        } => {
            return crate::transcription::cli::transcribe(data_dir, id, pending, model, json).await;
        }
        Command::Search {
            tenant,
            query,
            from,
            to,
            participant,
            tag,
            limit,
            json,
        } => {
            let app = App::open(data_dir, cli_actor()).await?;
            let request = crate::transcription::index::SearchRequest {
                tenant: parse_tenant(&tenant)?,
                query,
                from: from
                    .as_deref()
                    .map(crate::transcription::cli::parse_time)
                    .transpose()?,
                to: to
                    .as_deref()
                    .map(crate::transcription::cli::parse_time)
                    .transpose()?,
                participant,
                tags: tag,
                limit,
            };
            let hits = crate::transcription::index::search(&app, &request).await?;
            crate::transcription::cli::print_hits(&hits, json)?;
        }
        Command::Reindex { tenant } => {
            let app = App::open(data_dir, cli_actor()).await?;
            let tenant = parse_tenant(&tenant)?;
            let count = crate::transcription::index::reindex(&app, &tenant).await?;
            writeln!(out, "reindexed {count} recordings of tenant {tenant}")?;
        }
        Command::Bench(BenchCommand::Transcribe {
            json,
            model,
            seconds,
            device,
            no_turbo,
        }) => {
            let report = crate::transcription::cli::bench(model, seconds, &device, !no_turbo)?;
            if json {
                print_json(&report)?;
            } else {
                writeln!(out, "{}", report.human())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn print_summary(summary: &ImportSummary) -> Result<()> {
    let mut err = std::io::stderr().lock();
    for refused in &summary.refused {
        writeln!(
            err,
            "refused  {}: {} ({})",
            refused.file.display(),
            refused.reason,
            refused.reason_code
        )?;
    }
    for failed in &summary.failed {
        writeln!(err, "failed   {}: {}", failed.file.display(), failed.error)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "imported {}, duplicate {}, refused {}, failed {}",
        summary.imported.len(),
        summary.duplicates.len(),
        summary.refused.len(),
        summary.failed.len()
    )?;
    Ok(())
}
