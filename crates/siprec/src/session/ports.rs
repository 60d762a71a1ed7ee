//! Local media ports. The session core asks for ports while it builds an SDP answer, so the
//! answer stays synchronous; the driver decides what a port is (a bound socket pair, a slot
//! in a shared receiver). [`PortPool`] is the in-memory implementation.

use std::collections::BTreeSet;

/// Hands out RTP ports. Each port `p` also reserves `p + 1` for RTCP (RFC 3550 §11; RFC 7866
/// §8.1.1 makes RTCP REQUIRED), so ports are even.
pub trait PortAllocator {
    /// `count` distinct even RTP ports, or `None` (and nothing taken) when fewer are free.
    fn allocate(&mut self, count: usize) -> Option<Vec<u16>>;
    /// Gives ports back; unknown ports are ignored.
    fn release(&mut self, ports: &[u16]);
}

/// Even ports from a fixed range, lowest first.
#[derive(Debug, Clone)]
pub struct PortPool {
    free: BTreeSet<u16>,
    in_use: BTreeSet<u16>,
}

impl PortPool {
    /// Every even port `p` in `first..=last` with `p + 1` also in range.
    pub fn new(first: u16, last: u16) -> PortPool {
        let start = first.saturating_add(first % 2);
        let free = (start..last)
            .step_by(2)
            .filter(|port| port.checked_add(1).is_some_and(|rtcp| rtcp <= last))
            .collect();
        PortPool {
            free,
            in_use: BTreeSet::new(),
        }
    }

    /// Ports handed out and not yet released.
    pub fn in_use(&self) -> Vec<u16> {
        self.in_use.iter().copied().collect()
    }

    pub fn free_count(&self) -> usize {
        self.free.len()
    }
}

impl PortAllocator for PortPool {
    fn allocate(&mut self, count: usize) -> Option<Vec<u16>> {
        if self.free.len() < count {
            return None;
        }
        let ports: Vec<u16> = self.free.iter().take(count).copied().collect();
        for port in &ports {
            self.free.remove(port);
            self.in_use.insert(*port);
        }
        Some(ports)
    }

    fn release(&mut self, ports: &[u16]) {
        for port in ports {
            if self.in_use.remove(port) {
                self.free.insert(*port);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_hands_out_even_ports_and_takes_them_back() {
        let mut pool = PortPool::new(40_001, 40_008);
        assert_eq!(pool.free_count(), 3);
        assert_eq!(pool.allocate(2), Some(vec![40_002, 40_004]));
        assert_eq!(pool.allocate(2), None);
        assert_eq!(pool.in_use(), vec![40_002, 40_004]);
        pool.release(&[40_002, 1]);
        assert_eq!(pool.allocate(2), Some(vec![40_002, 40_006]));
    }
}
