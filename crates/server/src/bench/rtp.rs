//! `onrecord bench rtp`: live recording throughput against a bare receive loop.
//!
//! The built-in recording client places N SIPREC calls on loopback against an in-process
//! `serve` with one RTP worker, then:
//! 1. **paced**: every stream gets 50 packets/s (20 ms G.711) for S seconds — loss must be 0,
//!    and the memory per call in progress is read from the process RSS;
//! 2. **flood**: every stream is sent packets as fast as one sender thread can, round robin,
//!    for S seconds — packets recorded per CPU-second of the RTP worker thread;
//! 3. **baseline**: the same flood against a bare loop (epoll + `recvmmsg`, one socket per
//!    stream, discarding) on its own thread, before and after (the faster one is kept) —
//!    packets received per CPU-second of that thread.
//!
//! Per CPU-second of the receiving thread (its kernel time included) makes the ratio robust to
//! the sender and to neighbours on a shared machine.

use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use model::clock::{Clock, SystemClock};
use model::{ConsentPolicy, RegionId, TenantId};
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use serde::Serialize;

use crate::app::App;
use crate::datadir::DataDir;
use crate::live::media::{MediaEngine, thread_cpu_nanos};
use crate::live::server::{Ready, ServeOptions, serve};
use crate::recording_client::{ClientCall, RecordingClient, rtp_packet};
use crate::tenants::{self, NewTenant};

#[derive(Debug, Serialize)]
pub struct RtpBenchReport {
    pub calls: usize,
    pub streams: usize,
    pub seconds: u64,
    /// Paced phase: packets sent and recorded, and the share lost.
    pub paced_packets_sent: u64,
    pub paced_packets_recorded: u64,
    pub loss: f64,
    /// Resident memory per call in progress (process RSS growth over the calls / calls).
    pub bytes_per_call: u64,
    /// Flood phase: packets recorded per CPU-second of the RTP worker.
    pub packets_per_sec_per_core: f64,
    /// The bare loop's packets received per CPU-second of its thread.
    pub baseline_packets_per_sec_per_core: f64,
    pub ratio_to_baseline: f64,
    /// Flood phase: share of sent packets that never reached the worker (kernel drops).
    pub flood_loss: f64,
    pub flood_packets_recorded: u64,
    pub recordings_committed: u64,
    pub note: &'static str,
}

impl RtpBenchReport {
    pub fn human(&self) -> String {
        format!(
            "rtp: {} calls ({} streams), {} s per phase\n  paced: {} sent, {} recorded, loss {:.4}%\n  memory per call in progress: {} bytes\n  recorded: {:.0} packets/s/core (flood loss {:.1}%)\n  bare epoll+recvmmsg loop: {:.0} packets/s/core\n  ratio to baseline: {:.2}\n  recordings committed: {}",
            self.calls,
            self.streams,
            self.seconds,
            self.paced_packets_sent,
            self.paced_packets_recorded,
            self.loss * 100.0,
            self.bytes_per_call,
            self.packets_per_sec_per_core,
            self.flood_loss * 100.0,
            self.baseline_packets_per_sec_per_core,
            self.ratio_to_baseline,
            self.recordings_committed
        )
    }
}

fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| {
            text.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    pages * rustix::param::page_size() as u64
}

/// Sends to every target, round robin, with per-target sequence and timestamp, until
/// `stop`; paced at 20 ms per round when `paced`. Returns packets sent.
fn send_rtp(
    targets: &[SocketAddr],
    stop: &AtomicBool,
    paced: bool,
    clock: &dyn Clock,
) -> Result<u64> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let mut packet = [0u8; 172];
    let mut sequence = vec![0u16; targets.len()];
    let mut sent = 0u64;
    let mut round = 0u32;
    let start = clock.monotonic();
    while !stop.load(Ordering::Relaxed) {
        for (index, target) in targets.iter().enumerate() {
            let ssrc = 0x1000 + index as u32;
            rtp_packet(
                &mut packet,
                ssrc,
                sequence[index],
                u32::from(sequence[index]).wrapping_mul(160),
                index as u8,
            );
            sequence[index] = sequence[index].wrapping_add(1);
            if socket.send_to(&packet, target).is_ok() {
                sent += 1;
            }
        }
        round += 1;
        if paced {
            let next = start + Duration::from_millis(20) * round;
            if let Some(wait) = next.checked_duration_since(clock.monotonic()) {
                std::thread::sleep(wait);
            }
        }
    }
    Ok(sent)
}

/// The bare loop: epoll over one socket per stream, `recvmmsg` batches, nothing kept.
fn bare_loop(
    sockets: Vec<UdpSocket>,
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
) -> Result<u64> {
    let mut poll = mio::Poll::new()?;
    let mut sockets: Vec<mio::net::UdpSocket> = sockets
        .into_iter()
        .map(|socket| {
            socket.set_nonblocking(true)?;
            Ok(mio::net::UdpSocket::from_std(socket))
        })
        .collect::<std::io::Result<_>>()?;
    for (index, socket) in sockets.iter_mut().enumerate() {
        poll.registry()
            .register(socket, mio::Token(index), mio::Interest::READABLE)?;
    }
    const BATCH: usize = 32;
    const SLOT: usize = 2_048;
    let mut events = mio::Events::with_capacity(1_024);
    let mut buffers = vec![0u8; BATCH * SLOT];
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let cpu_start = thread_cpu_nanos();
    while !stop.load(Ordering::Relaxed) {
        let _ = poll.poll(&mut events, Some(Duration::from_millis(50)));
        for event in events.iter() {
            let Some(socket) = sockets.get(event.token().0) else {
                continue;
            };
            loop {
                let mut slots = buffers.chunks_mut(SLOT);
                let mut slices: [[IoSliceMut<'_>; 1]; BATCH] =
                    std::array::from_fn(|_| [IoSliceMut::new(slots.next().unwrap_or_default())]);
                let count = match recvmmsg(
                    socket.as_raw_fd(),
                    &mut headers,
                    slices.iter_mut(),
                    MsgFlags::MSG_DONTWAIT,
                    None,
                ) {
                    Ok(results) => results.count(),
                    Err(_) => 0,
                };
                received.fetch_add(count as u64, Ordering::Relaxed);
                if count < BATCH {
                    break;
                }
            }
        }
    }
    Ok(thread_cpu_nanos() - cpu_start)
}

/// Packets per CPU-second of the bare loop under a flood of `seconds`.
fn baseline(streams: usize, seconds: u64, clock: Arc<dyn Clock>) -> Result<(f64, u64)> {
    let sockets: Vec<UdpSocket> = (0..streams)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()?;
    let targets: Vec<SocketAddr> = sockets
        .iter()
        .map(UdpSocket::local_addr)
        .collect::<std::io::Result<_>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let receiver = {
        let (stop, received) = (stop.clone(), received.clone());
        std::thread::spawn(move || bare_loop(sockets, stop, received))
    };
    let sender_stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (stop, clock) = (sender_stop.clone(), clock.clone());
        std::thread::spawn(move || send_rtp(&targets, &stop, false, clock.as_ref()))
    };
    std::thread::sleep(Duration::from_secs(seconds));
    sender_stop.store(true, Ordering::Relaxed);
    let sent = sender
        .join()
        .map_err(|_| anyhow::anyhow!("sender panicked"))??;
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let cpu = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))??;
    let packets = received.load(Ordering::Relaxed);
    Ok((packets as f64 / (cpu as f64 / 1e9).max(1e-9), sent))
}

async fn prepare(root: &Path, calls: usize) -> Result<App> {
    let data_dir = DataDir::new(root.join("data"));
    tenants::create(
        &data_dir,
        "bench".into(),
        NewTenant {
            id: TenantId::new("bench")?,
            region: RegionId::new("local")?,
            policy: ConsentPolicy::AllParty,
            purpose: "benchmark".into(),
            legal_basis: "benchmark".into(),
            retention_days: 1,
            staff: vec!["sip:*@contact.example.com".into()],
        },
    )
    .await?;
    let config = data_dir.config_path();
    let mut text = std::fs::read_to_string(&config)?;
    text.push_str(
        "\n[[srcs]]\nname = \"bench-client\"\naddress = \"127.0.0.1\"\ntenant = \"bench\"\n",
    );
    std::fs::write(&config, text)?;
    let _ = calls;
    App::open(data_dir, "bench".into()).await
}

pub async fn run(calls: usize, seconds: u64) -> Result<RtpBenchReport> {
    if calls == 0 || seconds == 0 {
        bail!("--calls and --seconds must be at least 1");
    }
    let streams = calls * 2;
    let high = 20_000usize + streams * 2 + 64;
    if high > 65_000 {
        bail!("--calls {calls} needs more RTP ports than one machine has ({streams} streams)");
    }
    let temporary = tempfile::Builder::new()
        .prefix("onrecord-bench-rtp-")
        .tempdir()?;
    let app = prepare(temporary.path(), calls).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let options = ServeOptions {
        sip: SocketAddr::from(([127, 0, 0, 1], 0)),
        rtp_ports: (20_000, high as u16),
        media_address: [127, 0, 0, 1].into(),
        media_workers: 1,
        rtp_timeout: Duration::from_secs(3_600),
        commit_delay: Duration::from_millis(200),
        max_sessions: calls + 16,
    };
    let catalog = app.catalog.clone();
    let (ready_sender, ready) = tokio::sync::oneshot::channel::<Ready>();
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        app,
        options,
        async {
            let _ = stopped.await;
        },
        Some(ready_sender),
    ));
    let ready = ready.await.context("the recording server did not start")?;
    let media: Arc<MediaEngine> = ready.media.clone();

    let rss_before = resident_bytes();
    eprintln!("placing {calls} calls");
    let sip = ready.sip;
    let placed: (RecordingClient, Vec<ClientCall>) = tokio::task::spawn_blocking(move || {
        let client = RecordingClient::new(sip)?;
        let (established, refused) = client.place(calls, 50)?;
        if !refused.is_empty() {
            bail!(
                "{} calls were refused (statuses {:?})",
                refused.len(),
                &refused[..refused.len().min(5)]
            );
        }
        Ok((client, established))
    })
    .await??;
    let (client, established) = placed;
    let targets: Vec<SocketAddr> = established
        .iter()
        .flat_map(|call| call.streams.iter().copied())
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 1. Paced.
    eprintln!("paced: {streams} streams at 50 packets/s for {seconds} s");
    let counters_before = media.counters().packets.load(Ordering::Relaxed);
    let paced_sent = {
        let (targets, clock) = (targets.clone(), clock.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let stop = stop.clone();
            std::thread::spawn(move || send_rtp(&targets, &stop, true, clock.as_ref()))
        };
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        sender
            .join()
            .map_err(|_| anyhow::anyhow!("sender panicked"))??
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paced_recorded = media.counters().packets.load(Ordering::Relaxed) - counters_before;
    let rss_during = resident_bytes();

    // 2. Baseline before, flood, baseline after.
    eprintln!("baseline: bare epoll + recvmmsg loop");
    let (bare_before, _) = tokio::task::spawn_blocking({
        let clock = clock.clone();
        move || baseline(streams, seconds, clock)
    })
    .await??;
    eprintln!("flood: onrecord recording");
    let packets_before = media.counters().packets.load(Ordering::Relaxed);
    let cpu_before = media.counters().worker_cpu_nanos.load(Ordering::Relaxed);
    let flood_sent = {
        let (targets, clock) = (targets.clone(), clock.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let stop = stop.clone();
            std::thread::spawn(move || send_rtp(&targets, &stop, false, clock.as_ref()))
        };
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        sender
            .join()
            .map_err(|_| anyhow::anyhow!("sender panicked"))??
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let flood_recorded = media.counters().packets.load(Ordering::Relaxed) - packets_before;
    let flood_cpu = media.counters().worker_cpu_nanos.load(Ordering::Relaxed) - cpu_before;
    eprintln!("baseline again");
    let (bare_after, _) = tokio::task::spawn_blocking({
        let clock = clock.clone();
        move || baseline(streams, seconds, clock)
    })
    .await??;
    let bare = bare_before.max(bare_after);
    let recorded_per_cpu = flood_recorded as f64 / (flood_cpu as f64 / 1e9).max(1e-9);

    eprintln!("hanging up and archiving {calls} calls");
    let answered = tokio::task::spawn_blocking(move || client.hang_up(&established)).await??;
    let _ = answered;
    // Wait for the committer to archive the calls, then stop the server.
    let mut committed = 0;
    for _ in 0..600 {
        committed = catalog
            .count_recordings(&catalog::RecordingFilter::default())
            .await?;
        if committed >= calls as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_server.send(());
    server.await??;
    drop(temporary);

    Ok(RtpBenchReport {
        calls,
        streams,
        seconds,
        paced_packets_sent: paced_sent,
        paced_packets_recorded: paced_recorded,
        loss: 1.0 - (paced_recorded as f64 / (paced_sent as f64).max(1.0)),
        bytes_per_call: rss_during.saturating_sub(rss_before) / calls as u64,
        packets_per_sec_per_core: recorded_per_cpu,
        baseline_packets_per_sec_per_core: bare,
        ratio_to_baseline: recorded_per_cpu / bare.max(1e-9),
        flood_loss: 1.0 - (flood_recorded as f64 / (flood_sent as f64).max(1.0)),
        flood_packets_recorded: flood_recorded,
        recordings_committed: committed,
        note: "per core = per CPU-second of the receiving thread (user + kernel); loopback; one RTP worker; every chunk sealed (AES-256-GCM) and spooled",
    })
}
