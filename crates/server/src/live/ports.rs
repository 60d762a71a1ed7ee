//! RTP/RTCP port pairs for recorded streams: an even RTP port and the odd port above it for
//! RTCP (RFC 3550 §11), both bound on allocation so a port that another program holds is
//! skipped rather than answered in SDP.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error(
        "RTP port range {low}-{high} is invalid: it needs at least one even/odd pair between 1024 and 65535"
    )]
    Range { low: u16, high: u16 },
    #[error("no free RTP port pair left in {low}-{high} ({in_use} pairs in use)")]
    Exhausted { low: u16, high: u16, in_use: usize },
}

/// A bound pair of sockets for one stream.
#[derive(Debug)]
pub struct PortPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub rtp_port: u16,
}

/// Hands out port pairs from a configured range; thread-safe.
#[derive(Debug)]
pub struct PortAllocator {
    address: IpAddr,
    low: u16,
    high: u16,
    state: Mutex<AllocatorState>,
}

#[derive(Debug, Default)]
struct AllocatorState {
    in_use: BTreeSet<u16>,
    next: u16,
}

impl PortAllocator {
    /// `low`–`high` inclusive; RTP ports are the even ones.
    pub fn new(address: IpAddr, low: u16, high: u16) -> Result<PortAllocator, PortError> {
        let first = low.max(1024).next_multiple_of(2);
        if first >= high {
            return Err(PortError::Range { low, high });
        }
        Ok(PortAllocator {
            address,
            low: first,
            high,
            state: Mutex::new(AllocatorState {
                in_use: BTreeSet::new(),
                next: first,
            }),
        })
    }

    pub fn parse_range(text: &str) -> Option<(u16, u16)> {
        let (low, high) = text.split_once('-')?;
        Some((low.trim().parse().ok()?, high.trim().parse().ok()?))
    }

    pub fn pairs(&self) -> usize {
        usize::from((self.high - self.low).div_ceil(2))
    }

    pub fn in_use(&self) -> usize {
        self.state.lock().map(|s| s.in_use.len()).unwrap_or(0)
    }

    /// Binds the next free pair (round robin, so a just-released port is not reused at once:
    /// late packets of an ended call must not land in a new one).
    pub fn allocate(&self) -> Result<PortPair, PortError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let pairs = self.pairs();
        for _ in 0..pairs {
            let port = state.next;
            state.next = if port + 2 >= self.high {
                self.low
            } else {
                port + 2
            };
            if state.in_use.contains(&port) {
                continue;
            }
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.address, port)) else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.address, port + 1)) else {
                continue;
            };
            if rtp.set_nonblocking(true).is_err() || rtcp.set_nonblocking(true).is_err() {
                continue;
            }
            state.in_use.insert(port);
            return Ok(PortPair {
                rtp,
                rtcp,
                rtp_port: port,
            });
        }
        Err(PortError::Exhausted {
            low: self.low,
            high: self.high,
            in_use: state.in_use.len(),
        })
    }

    /// Returns a pair (its sockets are closed by dropping them).
    pub fn release(&self, rtp_port: u16) {
        if let Ok(mut state) = self.state.lock() {
            state.in_use.remove(&rtp_port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_odd_bound_and_reusable_after_release() -> Result<(), PortError> {
        let allocator = PortAllocator::new(IpAddr::from([127, 0, 0, 1]), 41_001, 41_007)?;
        assert_eq!(allocator.pairs(), 3);
        let a = allocator.allocate()?;
        let b = allocator.allocate()?;
        let c = allocator.allocate()?;
        for pair in [&a, &b, &c] {
            assert_eq!(pair.rtp_port % 2, 0);
            assert_eq!(
                pair.rtcp.local_addr().map(|a| a.port()).ok(),
                Some(pair.rtp_port + 1)
            );
        }
        assert!(matches!(
            allocator.allocate(),
            Err(PortError::Exhausted { .. })
        ));
        let port = b.rtp_port;
        drop(b);
        allocator.release(port);
        assert_eq!(allocator.allocate()?.rtp_port, port);
        Ok(())
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(
            PortAllocator::parse_range("40000-40999"),
            Some((40_000, 40_999))
        );
        assert_eq!(PortAllocator::parse_range("40000"), None);
    }
}
