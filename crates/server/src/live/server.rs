//! `onrecord serve`: the SIPREC recording server's driver. One task owns the sans-IO
//! `siprec::session::RecordingServer`, feeds it SIP from UDP and TCP with the wall and
//! monotonic clocks, sends what it transmits, and turns its events into media work (streams
//! added, gaps opened and closed) and, when a session ends, into a finished recording:
//! streams sealed and published, then committed to the catalog by the group committer.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use archive::{ObjectKey, Spool};
use catalog::{AuditNote, NewAuditEntry, NewRefusal, RecordingSource, RefusalSubject};
use chrono::{DateTime, Utc};
use media::{GapReason, RecorderConfig, StreamHeader, StreamRecorder};
use model::{RecordingId, StreamLabel, TenantId};
use rtp::{Encoding, PayloadFormat, PayloadTypeMap};
use seal::{ContainerHeader, ContainerWriter, DataKey, KeyBinding, TenantPublicKey};
use serde_json::json;
use sip::{EndpointConfig, Transport};
use siprec::session::{
    ClientPolicy, EndReason, PauseReason, RecordingServer, ServerConfig, SessionEvent,
    SessionParticipant, SessionStarted, StreamActivity, StreamPlan,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::committer::Committer;
use super::finalize::{Archiving, LiveSession, finalize};
use super::media::{MediaEngine, MediaEvent, SessionKey, StreamSetup};
use super::ports::{PortAllocator, PortPair};
use crate::app::App;

/// The content type of a live stream's plaintext: `media`'s stored stream format v1.
pub const LIVE_STREAM_CONTENT_TYPE: &str = "application/x-onrecord-rtp-v1";
/// Plaintext per sealed chunk of a live stream. Each stream holds one open chunk in memory, so
/// this sets the memory per call in progress (two streams: ~27 KiB of buffers) and the most a
/// crash can lose (1.5 s of G.711); the AES-GCM tag costs 0.13 % of the bytes.
pub const LIVE_CHUNK_SIZE: usize = 12 * 1024;

/// The label of the sealed metadata timeline object of a live recording.
pub const METADATA_STREAM_LABEL: &str = "metadata-timeline";

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub sip: SocketAddr,
    pub rtp_ports: (u16, u16),
    pub media_address: IpAddr,
    pub media_workers: usize,
    /// A session whose streams all stay silent this long (outside pauses and holds) ends.
    pub rtp_timeout: Duration,
    /// Finished calls are made durable and committed at least this often.
    pub commit_delay: Duration,
    pub max_sessions: usize,
}

/// What `serve` reports once it listens.
#[derive(Debug, Clone)]
pub struct Ready {
    pub sip: SocketAddr,
    /// The RTP engine, for its counters (metrics, benchmarks).
    pub media: Arc<MediaEngine>,
}

/// Ports handed to the sans-IO server are bound sockets kept here until the session starts.
struct BoundPorts {
    allocator: Arc<PortAllocator>,
    /// Shared with the driver, which hands the sockets to the media workers.
    bound: Arc<std::sync::Mutex<HashMap<u16, PortPair>>>,
}

impl siprec::session::PortAllocator for BoundPorts {
    fn allocate(&mut self, count: usize) -> Option<Vec<u16>> {
        let mut pairs = Vec::with_capacity(count);
        for _ in 0..count {
            match self.allocator.allocate() {
                Ok(pair) => pairs.push(pair),
                Err(error) => {
                    tracing::warn!(%error, "no RTP ports for a new stream");
                    for pair in pairs {
                        self.allocator.release(pair.rtp_port);
                    }
                    return None;
                }
            }
        }
        let ports = pairs.iter().map(|pair| pair.rtp_port).collect();
        let mut bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        for pair in pairs {
            bound.insert(pair.rtp_port, pair);
        }
        Some(ports)
    }

    fn release(&mut self, ports: &[u16]) {
        let mut bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        for port in ports {
            bound.remove(port);
            self.allocator.release(*port);
        }
    }
}

/// Everything the driver works with.
struct Driver {
    app: App,
    server: RecordingServer<BoundPorts>,
    bound: Arc<std::sync::Mutex<HashMap<u16, PortPair>>>,
    udp: Arc<UdpSocket>,
    tcp_writers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    clients: Vec<(crate::config::Network, Arc<ClientPolicy>)>,
    media: Arc<MediaEngine>,
    committer: Committer,
    /// Signs each recording's completeness certificate; loaded once at start.
    node: Arc<crate::nodekey::NodeKey>,
    spool: Spool,
    sessions: HashMap<RecordingId, LiveSession>,
    next_key: SessionKey,
    public_keys: HashMap<TenantId, TenantPublicKey>,
    finalizing: JoinSet<()>,
    /// The source of the request being handled, for streams whose SDP names no address.
    current_source: Option<SocketAddr>,
}

/// Input from a TCP connection, or its end.
enum TcpInput {
    Bytes(SocketAddr, Vec<u8>),
    Closed(SocketAddr),
    Opened(SocketAddr, mpsc::Sender<Vec<u8>>),
}

fn client_policies(app: &App) -> Result<Vec<(crate::config::Network, Arc<ClientPolicy>)>> {
    let mut clients = Vec::new();
    for src in &app.config.srcs {
        let tenant = app.tenant_config(&src.tenant)?;
        clients.push((
            src.network,
            Arc::new(ClientPolicy {
                name: src.name.clone(),
                tenant: src.tenant.clone(),
                rules: consent::ConsentRules::new(tenant.policy, tenant.staff.clone()),
                attestation: src.attests.clone(),
                accept_legacy: src.accept_legacy,
            }),
        ));
    }
    // Most specific network first.
    clients.sort_by_key(|client| std::cmp::Reverse(client.0.prefix));
    Ok(clients)
}

fn random_seed() -> [u8; 32] {
    use rand::RngCore;
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    seed
}

/// Runs the recording server until `shutdown` resolves, then ends every session in progress
/// (each is finalised into the archive) and returns.
pub async fn serve(
    app: App,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
    ready: Option<tokio::sync::oneshot::Sender<Ready>>,
) -> Result<()> {
    let udp = Arc::new(
        bind_sip_udp(options.sip)
            .with_context(|| format!("cannot bind SIP over UDP to {}", options.sip))?,
    );
    let local = udp.local_addr()?;
    let tcp = TcpListener::bind(local)
        .await
        .with_context(|| format!("cannot bind SIP over TCP to {local}"))?;
    let allocator = Arc::new(PortAllocator::new(
        options.media_address,
        options.rtp_ports.0,
        options.rtp_ports.1,
    )?);
    let host = if local.ip().is_unspecified() {
        options.media_address
    } else {
        local.ip()
    };
    let sent_by = SocketAddr::new(host, local.port());
    let mut endpoint = EndpointConfig::new(
        sent_by.to_string(),
        format!("<sip:srs@{sent_by}>;+sip.srs"),
        random_seed(),
    );
    endpoint.user_agent = Some(format!("onrecord/{}", env!("CARGO_PKG_VERSION")));
    let mut server_config = ServerConfig::new(endpoint, options.media_address, random_seed());
    server_config.max_sessions = options.max_sessions;
    let bound = Arc::new(std::sync::Mutex::new(HashMap::new()));
    let server = RecordingServer::new(
        server_config,
        BoundPorts {
            allocator,
            bound: bound.clone(),
        },
    );

    let (media_events, mut media_receiver) = mpsc::unbounded_channel();
    let media = Arc::new(MediaEngine::start(
        options.media_workers,
        options.rtp_timeout,
        app.clock.clone(),
        media_events,
    )?);
    let committer = Committer::start(
        app.catalog.clone(),
        app.archive.clone(),
        options.commit_delay,
    );
    let node = Arc::new(
        crate::nodekey::NodeKey::load_or_create(&app.data_dir.root().join("keyring"))
            .context("cannot load the node key that signs completeness certificates")?,
    );
    let spool = Spool::open(app.data_dir.spool_path())?;
    recover_spool(&spool);

    let (tcp_sender, mut tcp_receiver) = mpsc::channel::<TcpInput>(1_024);
    tokio::spawn(accept_tcp(tcp, tcp_sender));

    let mut driver = Driver {
        clients: client_policies(&app)?,
        app,
        server,
        bound,
        udp: udp.clone(),
        tcp_writers: HashMap::new(),
        media,
        committer,
        node,
        spool,
        sessions: HashMap::new(),
        next_key: 1,
        public_keys: HashMap::new(),
        finalizing: JoinSet::new(),
        current_source: None,
    };
    tracing::info!(sip = %local, "recording server listening (UDP and TCP)");
    if let Some(ready) = ready {
        let _ = ready.send(Ready {
            sip: local,
            media: driver.media.clone(),
        });
    }

    tokio::pin!(shutdown);
    let mut datagram = vec![0u8; 65_536];
    loop {
        let timeout = driver.server.poll_timeout();
        let sleep = async {
            match timeout {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            received = udp.recv_from(&mut datagram) => {
                if let Ok((length, remote)) = received {
                    let bytes = datagram[..length].to_vec();
                    driver.input(remote, Transport::Udp, &bytes).await;
                }
            }
            Some(input) = tcp_receiver.recv() => match input {
                TcpInput::Opened(remote, writer) => { driver.tcp_writers.insert(remote, writer); }
                TcpInput::Bytes(remote, bytes) => driver.input(remote, Transport::Tcp, &bytes).await,
                TcpInput::Closed(remote) => {
                    driver.tcp_writers.remove(&remote);
                    driver.server.handle_connection_closed(remote, Transport::Tcp);
                }
            },
            Some(MediaEvent::Inactive { session }) = media_receiver.recv() => {
                driver.media_inactive(session).await;
            }
            _ = sleep => {
                let (now, wall) = (driver.app.clock.monotonic(), driver.app.clock.wall());
                driver.server.handle_timeout(now, wall);
                driver.pump().await;
            }
            Some(_) = driver.finalizing.join_next(), if !driver.finalizing.is_empty() => {}
        }
    }

    // Graceful shutdown: every session in progress is ended and finalised.
    tracing::info!(
        sessions = driver.sessions.len(),
        "shutting down: finalising calls in progress"
    );
    let (now, wall) = (driver.app.clock.monotonic(), driver.app.clock.wall());
    let ids: Vec<RecordingId> = driver.sessions.keys().copied().collect();
    for id in ids {
        if driver
            .server
            .end_session(now, wall, id, EndReason::Shutdown)
            .is_err()
        {
            driver.session_ended(id, EndReason::Shutdown, wall).await;
        }
    }
    driver.pump().await;
    // Send the BYEs before the sockets close.
    for id in driver.sessions.keys().copied().collect::<Vec<_>>() {
        driver.session_ended(id, EndReason::Shutdown, wall).await;
    }
    while driver.finalizing.join_next().await.is_some() {}
    if let Ok(mut media) = Arc::try_unwrap(driver.media) {
        media.stop();
    }
    Ok(())
}

/// The SIP UDP socket, with a receive buffer big enough for a burst of INVITEs (a few MB; the
/// kernel caps it at `net.core.rmem_max`).
fn bind_sip_udp(address: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    let _ = socket.set_recv_buffer_size(8 * 1024 * 1024);
    socket.bind(&address.into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Spool files left by a crash hold sealed chunks of calls that were never committed; their
/// data keys were never stored, so they are unreadable. They are removed at start.
fn recover_spool(spool: &Spool) {
    match spool.leftovers() {
        Ok(leftovers) => {
            for (path, _) in leftovers {
                tracing::warn!(path = %path.display(), "removing an unreadable stream left by a crash");
                let _ = std::fs::remove_file(path);
            }
        }
        Err(error) => tracing::warn!(%error, "cannot read the spool"),
    }
}

async fn accept_tcp(listener: TcpListener, sender: mpsc::Sender<TcpInput>) {
    while let Ok((stream, remote)) = listener.accept().await {
        let (mut reader, mut writer) = stream.into_split();
        let (outgoing, mut outgoing_receiver) = mpsc::channel::<Vec<u8>>(256);
        if sender
            .send(TcpInput::Opened(remote, outgoing))
            .await
            .is_err()
        {
            return;
        }
        tokio::spawn(async move {
            while let Some(bytes) = outgoing_receiver.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        let sender = sender.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 16 * 1024];
            loop {
                match reader.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(length) => {
                        if sender
                            .send(TcpInput::Bytes(remote, buffer[..length].to_vec()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = sender.send(TcpInput::Closed(remote)).await;
        });
    }
}

fn pause_gap(reason: PauseReason) -> GapReason {
    match reason {
        PauseReason::NoConsent => GapReason::NoConsent,
        PauseReason::Pause => GapReason::Pause,
        PauseReason::Hold => GapReason::Hold,
    }
}

/// The payload-type map and primary payload type of an answered stream.
fn payload_types(plan: &StreamPlan) -> Option<(PayloadTypeMap, u8)> {
    let mut map = PayloadTypeMap::new();
    let mut primary = None;
    for codec in &plan.codecs {
        let Some(encoding) = Encoding::from_rtpmap_name(&codec.encoding_name) else {
            continue;
        };
        let Ok(format) = PayloadFormat::new(codec.payload_type, encoding, codec.clock_rate) else {
            continue;
        };
        if map.insert(format).is_ok() && primary.is_none() && encoding.is_audio() {
            primary = Some(codec.payload_type);
        }
    }
    primary.map(|primary| (map, primary))
}

impl Driver {
    async fn input(&mut self, remote: SocketAddr, transport: Transport, bytes: &[u8]) {
        let client = self
            .clients
            .iter()
            .find(|(network, _)| network.contains(remote.ip()))
            .map(|(_, policy)| policy.clone());
        let (now, wall) = (self.app.clock.monotonic(), self.app.clock.wall());
        self.current_source = Some(remote);
        self.server
            .handle_input(now, wall, remote, transport, bytes, client);
        self.pump().await;
        self.current_source = None;
    }

    /// Sends what the server transmits and acts on its events.
    async fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(transmit) = self.server.poll_transmit() {
                progressed = true;
                match transmit.transport {
                    Transport::Udp => {
                        let _ = self
                            .udp
                            .send_to(&transmit.bytes, transmit.destination)
                            .await;
                    }
                    Transport::Tcp | Transport::Tls => {
                        if let Some(writer) = self.tcp_writers.get(&transmit.destination) {
                            let _ = writer.send(transmit.bytes).await;
                        }
                    }
                }
            }
            while let Some(event) = self.server.poll_event() {
                progressed = true;
                self.event(event).await;
            }
            if !progressed {
                return;
            }
        }
    }

    async fn event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Started(started) => {
                if let Err(error) = self.start(*started).await {
                    tracing::error!(error = %format!("{error:#}"), "cannot start recording a session");
                }
            }
            SessionEvent::Refused(refusal) => self.refused(*refusal).await,
            SessionEvent::MetadataUpdated {
                session,
                metadata,
                participants,
            } => {
                if let Some(live) = self.sessions.get_mut(&session) {
                    live.completeness.metadata(&metadata);
                    live.completeness.participants(&participants);
                    live.metadata_timeline.push(
                        json!({
                            "received_at": self.app.clock.wall().to_rfc3339(),
                            "metadata": *metadata,
                        })
                        .to_string(),
                    );
                    merge_participants(&mut live.participants, participants);
                }
            }
            SessionEvent::StreamsChanged { session, streams } => {
                self.streams_changed(session, streams)
            }
            SessionEvent::StreamPaused {
                session,
                label,
                reason,
            } => {
                if let Some(live) = self.sessions.get_mut(&session) {
                    live.completeness
                        .gap(&label, pause_gap(reason), &live.participants);
                    self.media
                        .gap(live.key, Some(label), pause_gap(reason), true);
                }
            }
            SessionEvent::StreamResumed { session, label } => {
                if let Some(live) = self.sessions.get(&session) {
                    // Whatever paused it is over.
                    for reason in [GapReason::Pause, GapReason::Hold, GapReason::NoConsent] {
                        self.media.gap(live.key, Some(label.clone()), reason, false);
                    }
                }
            }
            SessionEvent::SnapshotRequested { .. } => {}
            SessionEvent::SessionEnded {
                session,
                reason,
                ended_at,
            } => {
                self.session_ended(session, reason, ended_at).await;
            }
            SessionEvent::ConnectionUnusable { remote, .. } => {
                self.tcp_writers.remove(&remote);
            }
        }
    }

    async fn public_key(&mut self, tenant: &TenantId) -> Result<TenantPublicKey> {
        if let Some(key) = self.public_keys.get(tenant) {
            return Ok(key.clone());
        }
        let key = self.app.public_key(tenant).await?;
        self.public_keys.insert(tenant.clone(), key.clone());
        Ok(key)
    }

    async fn start(&mut self, started: SessionStarted) -> Result<()> {
        let id = started.session;
        let placement = self.app.placement(&started.tenant)?;
        let public_key = self.public_key(&started.tenant).await?;
        let mut rng = rand::rng();
        let data_key = DataKey::generate(&mut rng);
        let sealed_key = data_key.seal_to(
            &public_key,
            &KeyBinding {
                tenant: started.tenant.clone(),
                recording: id,
            },
            &mut rng,
        )?;
        let key = self.next_key;
        self.next_key += 1;
        let mut live = LiveSession {
            recording_id: id,
            key,
            tenant: started.tenant.clone(),
            client: started.client.clone(),
            call_id: started.call_id.clone(),
            legacy: started.legacy,
            placement,
            started_at: started.started_at,
            data_key,
            sealed_key,
            participants: started.participants.clone(),
            streams: HashMap::new(),
            metadata_timeline: Vec::new(),
            completeness: Default::default(),
        };
        live.completeness.participants(&started.participants);
        if let Some(metadata) = &started.metadata {
            live.completeness.metadata(metadata);
            live.metadata_timeline.push(
                json!({ "received_at": started.started_at.to_rfc3339(), "metadata": metadata })
                    .to_string(),
            );
        }
        self.sessions.insert(id, live);
        self.streams_changed(id, started.streams);
        tracing::info!(session = %id, tenant = %started.tenant, client = %started.client, "recording");
        Ok(())
    }

    /// Starts recording streams the session does not record yet; applies pause states.
    fn streams_changed(&mut self, session: RecordingId, streams: Vec<StreamPlan>) {
        let Some(live) = self.sessions.get_mut(&session) else {
            return;
        };
        let monotonic = self.app.clock.monotonic();
        let mut setups = Vec::new();
        for plan in streams {
            live.completeness.plan(&plan);
            if live.streams.contains_key(&plan.label) {
                continue;
            }
            let taken = self
                .bound
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&plan.local_port);
            let Some(ports) = taken else {
                tracing::warn!(session = %session, label = %plan.label, "no bound sockets for an answered stream");
                live.completeness.not_recorded(
                    &plan.label,
                    "no bound sockets for the answered stream".into(),
                );
                continue;
            };
            match stream_setup(
                live,
                &plan,
                ports,
                &self.spool,
                monotonic,
                self.current_source,
            ) {
                Ok(setup) => {
                    setups.push(setup);
                    live.streams.insert(plan.label.clone(), plan);
                }
                Err(error) => {
                    tracing::error!(session = %session, error = %format!("{error:#}"), "cannot record a stream");
                    live.completeness
                        .not_recorded(&plan.label, format!("{error:#}"));
                }
            }
        }
        let key = live.key;
        let paused: Vec<(StreamLabel, PauseReason)> = live
            .streams
            .values()
            .filter_map(|plan| match plan.activity {
                StreamActivity::Paused(reason) => Some((plan.label.clone(), reason)),
                StreamActivity::Recording => None,
            })
            .collect();
        if !setups.is_empty() {
            self.media.add_streams(key, setups);
        }
        for (label, reason) in paused {
            live.completeness
                .gap(&label, pause_gap(reason), &live.participants);
            self.media.gap(key, Some(label), pause_gap(reason), true);
        }
    }

    async fn refused(&mut self, refusal: siprec::session::Refusal) {
        tracing::info!(code = refusal.code, status = refusal.status, client = ?refusal.client, "refused a recording session");
        let actor = format!(
            "siprec:{}",
            refusal.client.as_deref().unwrap_or("unknown-client")
        );
        let details = json!({
            "code": refusal.code,
            "status": refusal.status,
            "message": refusal.message,
            "call_id": refusal.call_id,
            "source": self.current_source.map(|s| s.ip().to_string()),
        });
        let result = match &refusal.tenant {
            Some(tenant) => self
                .app
                .catalog
                .record_refusals(&[NewRefusal {
                    tenant: tenant.clone(),
                    at: refusal.at,
                    reason: refusal.code.to_owned(),
                    source: RecordingSource::Siprec,
                    subject: RefusalSubject::Client(refusal.client.clone().unwrap_or_default()),
                    audit: AuditNote::new(actor, "siprec.refused", details),
                }])
                .await
                .map(|_| ()),
            None => self
                .app
                .catalog
                .append_audit(&[NewAuditEntry {
                    at: refusal.at,
                    actor,
                    action: "siprec.refused".into(),
                    tenant: None,
                    recording: None,
                    details,
                }])
                .await
                .map(|_| ()),
        };
        if let Err(error) = result {
            tracing::error!(%error, "cannot record a refusal");
        }
    }

    async fn media_inactive(&mut self, key: SessionKey) {
        let Some(id) = self
            .sessions
            .iter()
            .find(|(_, live)| live.key == key)
            .map(|(id, _)| *id)
        else {
            return;
        };
        tracing::info!(session = %id, "no RTP for the inactivity timeout: ending the session");
        let (now, wall) = (self.app.clock.monotonic(), self.app.clock.wall());
        if self
            .server
            .end_session(now, wall, id, EndReason::MediaTimeout)
            .is_err()
        {
            self.session_ended(id, EndReason::MediaTimeout, wall).await;
        }
        self.pump().await;
    }

    async fn session_ended(&mut self, id: RecordingId, reason: EndReason, ended_at: DateTime<Utc>) {
        let Some(live) = self.sessions.remove(&id) else {
            return;
        };
        let store = match self.app.archive.for_placement(&live.placement) {
            Ok(store) => store.clone(),
            Err(error) => {
                tracing::error!(%error, "no store for a finished session");
                return;
            }
        };
        let archiving = Archiving {
            media: self.media.clone(),
            store,
            committer: self.committer.clone(),
            node: self.node.clone(),
        };
        self.finalizing.spawn(async move {
            if let Err(error) = finalize(id, live, reason, ended_at, archiving).await {
                tracing::error!(session = %id, error = %format!("{error:#}"), "a finished call could not be archived");
            }
        });
    }
}

fn merge_participants(known: &mut Vec<SessionParticipant>, latest: Vec<SessionParticipant>) {
    for participant in latest {
        match known.iter_mut().find(|p| p.id == participant.id) {
            Some(existing) => *existing = participant,
            None => known.push(participant),
        }
    }
}

fn stream_setup(
    live: &LiveSession,
    plan: &StreamPlan,
    ports: PortPair,
    spool: &Spool,
    monotonic: std::time::Instant,
    source: Option<SocketAddr>,
) -> Result<StreamSetup> {
    let (payload_types, primary) =
        payload_types(plan).context("no audio codec was answered for the stream")?;
    let header = StreamHeader::new(payload_types, primary, live.started_at.timestamp_millis())?;
    let mut config = RecorderConfig::new(header);
    config.writer.chunk_size = LIVE_CHUNK_SIZE;
    let recorder = StreamRecorder::new(config, monotonic, Vec::new())?;
    let chunk_size = u32::try_from(LIVE_CHUNK_SIZE).unwrap_or(12 * 1024);
    let id = live.recording_id;
    let container =
        ContainerHeader::new(id, plan.label.clone(), LIVE_STREAM_CONTENT_TYPE, chunk_size)?;
    let sealer = ContainerWriter::new(&live.data_key, container, &mut rand::rng())?;
    let key = ObjectKey::for_stream(&live.tenant, live.started_at, id, &plan.label);
    let spooled = spool.create_stream(&key)?;
    let allowed_source = plan
        .remote
        .map(|remote| remote.ip())
        .or(source.map(|s| s.ip()))
        .context("the stream's sender address is unknown")?;
    Ok(StreamSetup {
        label: plan.label.clone(),
        ports,
        allowed_source,
        recorder,
        sealer,
        spooled,
    })
}
