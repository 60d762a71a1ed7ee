//! The RTP receive path: worker threads, each with its own epoll set of stream sockets read in
//! batches (`recvmmsg`), feeding each stream's `media::StreamRecorder`, sealing every full chunk
//! at once (`seal::ContainerWriter`) and appending it to the stream's spool file. Plaintext
//! never leaves the worker's memory; at most one open chunk per stream is held.
//!
//! All streams of one session live on one worker (chosen by session), so a session's finish
//! is one command. The SIP driver talks to workers over a channel and a waker.

use std::collections::HashMap;
use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use archive::SpooledStream;
use media::{GapReason, RecorderStatistics, StreamRecorder};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use model::StreamLabel;
use model::clock::Clock;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use seal::ContainerWriter;

use super::ports::PortPair;

/// Datagrams read per `recvmmsg` call.
const BATCH: usize = 32;
/// Room per datagram: RTP over Ethernet never exceeds this.
const SLOT: usize = 2_048;
const WAKER: Token = Token(usize::MAX);

/// A session, as the driver numbers them.
pub type SessionKey = u64;

/// Everything needed to record one stream.
#[derive(Debug)]
pub struct StreamSetup {
    pub label: StreamLabel,
    pub ports: PortPair,
    /// Media is accepted only from the recording client's address (the SDP `c=` address or
    /// the SIP source): onrecord records what its client sends, nothing it merely sees.
    pub allowed_source: IpAddr,
    pub recorder: StreamRecorder,
    pub sealer: ContainerWriter,
    pub spooled: SpooledStream,
}

/// A stream after its session ended: the spool file ready to publish, and what was counted.
#[derive(Debug)]
pub struct FinishedStream {
    pub label: StreamLabel,
    pub rtp_port: u16,
    pub spooled: SpooledStream,
    pub statistics: RecorderStatistics,
    pub rejected_source: u64,
    pub rtcp_packets: u64,
    pub plaintext_size: u64,
    pub plaintext_digest: [u8; 32],
    /// Pauses, holds, losses, inactivity and consent gaps.
    pub gap_map: media::GapMap,
    /// A sealing or spool error that stopped recording this stream early.
    pub error: Option<String>,
}

/// What workers tell the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// No packet on any unpaused stream of the session for the inactivity timeout.
    Inactive { session: SessionKey },
}

enum Command {
    Add {
        session: SessionKey,
        streams: Vec<StreamSetup>,
    },
    Gap {
        session: SessionKey,
        label: Option<StreamLabel>,
        reason: GapReason,
        open: bool,
    },
    Finish {
        session: SessionKey,
        reply: tokio::sync::oneshot::Sender<Vec<FinishedStream>>,
    },
    Stop,
}

/// Packet counters of the whole engine (for metrics and benchmarks).
#[derive(Debug, Default)]
pub struct MediaCounters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub rejected: AtomicU64,
    /// CPU time the workers spent, in nanoseconds (updated as they run).
    pub worker_cpu_nanos: AtomicU64,
}

struct WorkerHandle {
    commands: mpsc::Sender<Command>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

pub struct MediaEngine {
    workers: Vec<WorkerHandle>,
    counters: Arc<MediaCounters>,
    stopped: Mutex<bool>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("workers", &self.workers.len())
            .finish()
    }
}

impl MediaEngine {
    pub fn start(
        workers: usize,
        inactivity: Duration,
        clock: Arc<dyn Clock>,
        events: tokio::sync::mpsc::UnboundedSender<MediaEvent>,
    ) -> std::io::Result<MediaEngine> {
        let counters = Arc::new(MediaCounters::default());
        let mut handles = Vec::new();
        for index in 0..workers.max(1) {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let (commands, receiver) = mpsc::channel();
            let mut worker = Worker {
                poll,
                commands: receiver,
                streams: HashMap::new(),
                next_token: 0,
                clock: clock.clone(),
                events: events.clone(),
                inactivity,
                counters: counters.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("onrecord-rtp-{index}"))
                .spawn(move || worker.run())?;
            handles.push(WorkerHandle {
                commands,
                waker,
                thread: Some(thread),
            });
        }
        Ok(MediaEngine {
            workers: handles,
            counters,
            stopped: Mutex::new(false),
        })
    }

    pub fn counters(&self) -> &MediaCounters {
        &self.counters
    }

    fn worker(&self, session: SessionKey) -> &WorkerHandle {
        &self.workers[(session as usize) % self.workers.len()]
    }

    fn send(&self, session: SessionKey, command: Command) {
        let worker = self.worker(session);
        if worker.commands.send(command).is_ok() {
            let _ = worker.waker.wake();
        }
    }

    pub fn add_streams(&self, session: SessionKey, streams: Vec<StreamSetup>) {
        self.send(session, Command::Add { session, streams });
    }

    /// Opens or closes a signalled gap (pause, hold, no consent) on one stream, or on all
    /// streams of the session when `label` is `None`.
    pub fn gap(
        &self,
        session: SessionKey,
        label: Option<StreamLabel>,
        reason: GapReason,
        open: bool,
    ) {
        self.send(
            session,
            Command::Gap {
                session,
                label,
                reason,
                open,
            },
        );
    }

    /// Ends every stream of the session and returns them for publishing.
    pub async fn finish(&self, session: SessionKey) -> Vec<FinishedStream> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(session, Command::Finish { session, reply });
        answer.await.unwrap_or_default()
    }

    /// Stops the workers (after the driver has finished every session).
    pub fn stop(&mut self) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        if *stopped {
            return;
        }
        *stopped = true;
        for worker in &mut self.workers {
            if worker.commands.send(Command::Stop).is_ok() {
                let _ = worker.waker.wake();
            }
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for MediaEngine {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Stream {
    session: SessionKey,
    label: StreamLabel,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    rtp_port: u16,
    allowed_source: IpAddr,
    recorder: StreamRecorder,
    sealer: Option<ContainerWriter>,
    spooled: SpooledStream,
    /// SHA-256 of the plaintext as it is sealed: its state is ~100 bytes where BLAKE3's is
    /// ~2 KiB, and at a live stream's 8 KB/s its speed does not matter. (The sealed object's
    /// digest is computed when it is published, from the spool file.)
    plain_hasher: aws_lc_rs::digest::Context,
    plaintext_size: u64,
    last_packet: Instant,
    rejected_source: u64,
    rtcp_packets: u64,
    /// Signalled gaps open on the stream (pause, hold, no consent): a quiet stream is
    /// expected then and does not count as inactive.
    signalled_gaps: Vec<GapReason>,
    error: Option<String>,
}

impl Stream {
    /// Seals and spools every full chunk the recorder holds.
    fn drain_full_chunks(&mut self) {
        while let Some(chunk) = self.recorder.full_chunk() {
            if self.error.is_none() {
                self.plain_hasher.update(chunk);
                self.plaintext_size += chunk.len() as u64;
                let sealed = match self.sealer.as_mut() {
                    Some(sealer) => sealer.push(chunk).map_err(|e| e.to_string()),
                    None => Err("stream already sealed".to_owned()),
                };
                match sealed
                    .and_then(|sealed| self.spooled.append(&sealed).map_err(|e| e.to_string()))
                {
                    Ok(()) => {}
                    Err(error) => self.error = Some(error),
                }
            }
            if self.recorder.release_chunk().is_none() {
                break;
            }
        }
    }

    fn finish(mut self, now: Instant) -> FinishedStream {
        if let Err(error) = self.recorder.finish(now) {
            self.error.get_or_insert(error.to_string());
        }
        self.drain_full_chunks();
        if let (Some(last), None) = (self.recorder.last_chunk(), &self.error) {
            self.plain_hasher.update(last);
            self.plaintext_size += last.len() as u64;
            let last = last.to_vec();
            let result = self
                .sealer
                .take()
                .ok_or_else(|| "stream already sealed".to_owned())
                .and_then(|mut sealer| {
                    let body = sealer.push(&last).map_err(|e| e.to_string())?;
                    let tail = sealer.finish().map_err(|e| e.to_string())?;
                    for part in [body, tail] {
                        self.spooled.append(&part).map_err(|e| e.to_string())?;
                    }
                    Ok(())
                });
            if let Err(error) = result {
                self.error = Some(error);
            }
        }
        FinishedStream {
            label: self.label,
            rtp_port: self.rtp_port,
            statistics: self.recorder.statistics(),
            gap_map: self.recorder.gap_map(),
            spooled: self.spooled,
            rejected_source: self.rejected_source,
            rtcp_packets: self.rtcp_packets,
            plaintext_size: self.plaintext_size,
            plaintext_digest: sha256_bytes(self.plain_hasher.finish()),
            error: self.error,
        }
    }
}

struct Worker {
    poll: Poll,
    commands: mpsc::Receiver<Command>,
    /// Streams by RTP token (even); the RTCP socket has the odd token above.
    streams: HashMap<usize, Stream>,
    next_token: usize,
    clock: Arc<dyn Clock>,
    events: tokio::sync::mpsc::UnboundedSender<MediaEvent>,
    inactivity: Duration,
    counters: Arc<MediaCounters>,
}

pub fn thread_cpu_nanos() -> u64 {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (time.tv_sec.max(0) as u64) * 1_000_000_000 + time.tv_nsec.max(0) as u64
}

impl Worker {
    fn run(&mut self) {
        let mut events = Events::with_capacity(1_024);
        let mut buffers = vec![0u8; BATCH * SLOT];
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut last_check = self.clock.monotonic();
        let mut cpu_reported = thread_cpu_nanos();
        loop {
            let _ = self
                .poll
                .poll(&mut events, Some(Duration::from_millis(250)));
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    Token(token) if token % 2 == 0 => {
                        self.read_rtp(token, &mut buffers, &mut headers)
                    }
                    Token(token) => self.read_rtcp(token - 1, &mut buffers),
                }
            }
            if !self.handle_commands() {
                return;
            }
            let now = self.clock.monotonic();
            if now.duration_since(last_check) >= Duration::from_secs(1) {
                last_check = now;
                self.check_inactivity(now);
                let cpu = thread_cpu_nanos();
                self.counters
                    .worker_cpu_nanos
                    .fetch_add(cpu - cpu_reported, Ordering::Relaxed);
                cpu_reported = cpu;
            }
        }
    }

    fn read_rtp(
        &mut self,
        token: usize,
        buffers: &mut [u8],
        headers: &mut MultiHeaders<SockaddrStorage>,
    ) {
        let Some(stream) = self.streams.get_mut(&token) else {
            return;
        };
        let fd = stream.rtp.as_raw_fd();
        loop {
            let mut received = [(0usize, None::<SocketAddr>); BATCH];
            let count = {
                let mut slots = buffers.chunks_mut(SLOT);
                let mut slices: [[IoSliceMut<'_>; 1]; BATCH] =
                    std::array::from_fn(|_| [IoSliceMut::new(slots.next().unwrap_or_default())]);
                match recvmmsg(fd, headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None) {
                    Ok(results) => {
                        let mut count = 0;
                        for (slot, message) in received.iter_mut().zip(results) {
                            *slot = (message.bytes, message.address.and_then(socket_address));
                            count += 1;
                        }
                        count
                    }
                    Err(_) => 0,
                }
            };
            if count == 0 {
                return;
            }
            let now = self.clock.monotonic();
            let mut accepted = 0u64;
            let mut bytes = 0u64;
            for (index, (length, source)) in received[..count].iter().enumerate() {
                let from_client = source
                    .is_some_and(|s| s.ip().to_canonical() == stream.allowed_source.to_canonical());
                if !from_client {
                    stream.rejected_source += 1;
                    continue;
                }
                let start = index * SLOT;
                let datagram = &buffers[start..start + (*length).min(SLOT)];
                accepted += 1;
                bytes += *length as u64;
                // Malformed datagrams are counted by the recorder; they never stop a stream.
                if let Ok(Some(_)) = stream.recorder.on_rtp(now, datagram) {
                    stream.drain_full_chunks();
                }
            }
            if accepted > 0 {
                stream.last_packet = now;
            }
            self.counters.packets.fetch_add(accepted, Ordering::Relaxed);
            self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
            self.counters
                .rejected
                .fetch_add(count as u64 - accepted, Ordering::Relaxed);
            if count < BATCH {
                return;
            }
        }
    }

    fn read_rtcp(&mut self, token: usize, buffer: &mut [u8]) {
        let Some(stream) = self.streams.get_mut(&token) else {
            return;
        };
        while let Ok((length, source)) = stream.rtcp.recv_from(&mut buffer[..SLOT]) {
            if source.ip().to_canonical() != stream.allowed_source.to_canonical() {
                stream.rejected_source += 1;
                continue;
            }
            if length > 0 {
                stream.rtcp_packets += 1;
            }
        }
    }

    /// Returns false when told to stop.
    fn handle_commands(&mut self) -> bool {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Add { session, streams } => {
                    for setup in streams {
                        self.add(session, setup);
                    }
                }
                Command::Gap {
                    session,
                    label,
                    reason,
                    open,
                } => {
                    let now = self.clock.monotonic();
                    for stream in self.streams.values_mut() {
                        if stream.session != session
                            || label.as_ref().is_some_and(|l| l != &stream.label)
                        {
                            continue;
                        }
                        let result = if open {
                            if !stream.signalled_gaps.contains(&reason) {
                                stream.signalled_gaps.push(reason);
                            }
                            stream.recorder.start_gap(now, reason)
                        } else {
                            stream.signalled_gaps.retain(|open| *open != reason);
                            stream.last_packet = now;
                            stream.recorder.end_gap(now, reason)
                        };
                        if let Ok(Some(_)) = result {
                            stream.drain_full_chunks();
                        }
                    }
                }
                Command::Finish { session, reply } => {
                    let now = self.clock.monotonic();
                    let tokens: Vec<usize> = self
                        .streams
                        .iter()
                        .filter(|(_, s)| s.session == session)
                        .map(|(token, _)| *token)
                        .collect();
                    let mut finished = Vec::with_capacity(tokens.len());
                    for token in tokens {
                        if let Some(mut stream) = self.streams.remove(&token) {
                            let _ = self.poll.registry().deregister(&mut stream.rtp);
                            let _ = self.poll.registry().deregister(&mut stream.rtcp);
                            finished.push(stream.finish(now));
                        }
                    }
                    finished.sort_by(|a, b| a.label.cmp(&b.label));
                    let _ = reply.send(finished);
                }
                Command::Stop => return false,
            }
        }
        true
    }

    fn add(&mut self, session: SessionKey, setup: StreamSetup) {
        let token = self.next_token;
        self.next_token += 2;
        let mut rtp = UdpSocket::from_std(setup.ports.rtp);
        let mut rtcp = UdpSocket::from_std(setup.ports.rtcp);
        let registry = self.poll.registry();
        if registry
            .register(&mut rtp, Token(token), Interest::READABLE)
            .is_err()
            || registry
                .register(&mut rtcp, Token(token + 1), Interest::READABLE)
                .is_err()
        {
            tracing::error!(session, label = %setup.label, "cannot watch the stream's sockets");
        }
        self.streams.insert(
            token,
            Stream {
                session,
                label: setup.label,
                rtp,
                rtcp,
                rtp_port: setup.ports.rtp_port,
                allowed_source: setup.allowed_source,
                recorder: setup.recorder,
                sealer: Some(setup.sealer),
                spooled: setup.spooled,
                plain_hasher: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
                plaintext_size: 0,
                last_packet: self.clock.monotonic(),
                rejected_source: 0,
                rtcp_packets: 0,
                signalled_gaps: Vec::new(),
                error: None,
            },
        );
    }

    /// A session whose unpaused streams all went quiet is reported once per check.
    fn check_inactivity(&mut self, now: Instant) {
        let mut quiet: HashMap<SessionKey, bool> = HashMap::new();
        for stream in self.streams.values() {
            let silent = !stream.signalled_gaps.is_empty()
                || now.duration_since(stream.last_packet) >= self.inactivity;
            let entry = quiet.entry(stream.session).or_insert(true);
            *entry &= silent;
        }
        for (session, silent) in quiet {
            if silent {
                let _ = self.events.send(MediaEvent::Inactive { session });
            }
        }
    }
}

fn sha256_bytes(digest: aws_lc_rs::digest::Digest) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn socket_address(storage: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    storage
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
}
