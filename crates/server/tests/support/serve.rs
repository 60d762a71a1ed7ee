//! A running `onrecord serve` for end-to-end tests, stopped with SIGTERM like an operator would.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::Sandbox;

pub struct Server {
    child: Child,
    pub sip: SocketAddr,
    log: mpsc::Receiver<String>,
}

/// A free UDP port on loopback (bound, read, released).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// An RTP range unlikely to collide with parallel tests: derived from a free port.
pub fn rtp_range() -> String {
    let base = 30_000 + (free_udp_port() % 300) * 100;
    format!("{base}-{}", base + 99)
}

impl Server {
    pub fn start(sandbox: &Sandbox, extra: &[&str]) -> Server {
        let range = rtp_range();
        let mut args = vec![
            "serve",
            "--sip",
            "127.0.0.1:0",
            "--rtp-ports",
            range.as_str(),
            "--rtp-timeout",
            "20",
        ];
        args.extend_from_slice(extra);
        let mut child = sandbox
            .command(&args)
            .env("ONRECORD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start onrecord serve: {e}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (sender, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            sip: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let line = server
            .wait_for("listening on SIP", Duration::from_secs(30))
            .unwrap_or_else(|| panic!("onrecord serve did not start"));
        let address = line
            .split("listening on SIP ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| panic!("no SIP address in {line:?}"));
        server.sip = address;
        server
    }

    /// Waits for a log line containing `needle`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        use model::clock::Clock;
        let clock = model::clock::SystemClock;
        let deadline = clock.monotonic() + timeout;
        loop {
            let left = deadline.checked_duration_since(clock.monotonic())?;
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// SIGTERM, then the exit status (calls in progress are finalised first).
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(0));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().unwrap_or_else(|e| panic!("wait: {e}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
