//! The non-INVITE client transaction (RFC 3261 §17.1.2), for the BYE, UPDATE and INFO
//! requests we send in a dialog.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::event::{DialogId, Transport};
use crate::message::Method;
use crate::transaction::Timers;

#[derive(Debug)]
enum State {
    Trying,
    Proceeding,
    /// Timer K absorbs response retransmissions.
    Completed {
        until: Instant,
    },
}

/// What a timer did.
#[derive(Debug, Default)]
pub(crate) struct ClientTimerOutcome {
    pub retransmit: Option<Vec<u8>>,
    pub timed_out: bool,
    pub terminated: bool,
}

/// A request we sent, waiting for its final response.
#[derive(Debug)]
pub(crate) struct ClientTransaction {
    pub branch: String,
    pub method: Method,
    pub dialog: DialogId,
    /// Whether the application asked for this request (and gets its responses).
    pub report: bool,
    pub destination: SocketAddr,
    pub transport: Transport,
    request: Vec<u8>,
    state: State,
    retransmit_at: Option<Instant>,
    interval: Duration,
    give_up_at: Instant,
}

impl ClientTransaction {
    /// A transaction whose request is being sent now.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        now: Instant,
        branch: String,
        method: Method,
        dialog: DialogId,
        report: bool,
        destination: SocketAddr,
        transport: Transport,
        request: Vec<u8>,
        timers: &Timers,
    ) -> ClientTransaction {
        ClientTransaction {
            branch,
            method,
            dialog,
            report,
            destination,
            transport,
            request,
            state: State::Trying,
            // RFC 3261 §17.1.2.2: Timer E = T1 for unreliable transports only; Timer F =
            // 64*T1 for all.
            retransmit_at: (!transport.is_reliable()).then(|| now + timers.t1),
            interval: timers.t1,
            give_up_at: now + timers.transaction_timeout(),
        }
    }

    /// A response matched this transaction: returns (pass it to the application, the
    /// transaction is over).
    pub fn on_response(&mut self, now: Instant, status: u16, timers: &Timers) -> (bool, bool) {
        match self.state {
            State::Completed { .. } => (false, false),
            State::Trying | State::Proceeding if status < 200 => {
                self.state = State::Proceeding;
                (true, false)
            }
            State::Trying | State::Proceeding => {
                // RFC 3261 §17.1.2.2: Timer K = T4 for unreliable transports, zero for
                // reliable ones.
                if self.transport.is_reliable() {
                    return (true, true);
                }
                self.retransmit_at = None;
                self.state = State::Completed {
                    until: now + timers.t4,
                };
                (true, false)
            }
        }
    }

    pub fn on_timer(&mut self, now: Instant, timers: &Timers) -> ClientTimerOutcome {
        let mut outcome = ClientTimerOutcome::default();
        match self.state {
            State::Completed { until } => outcome.terminated = until <= now,
            State::Trying | State::Proceeding if self.give_up_at <= now => {
                // RFC 3261 §17.1.2.2: Timer F fired: inform the TU of the timeout.
                outcome.timed_out = true;
                outcome.terminated = true;
            }
            State::Trying | State::Proceeding => {
                if self.retransmit_at.is_some_and(|at| at <= now) {
                    // RFC 3261 §17.1.2.2: in Trying the interval doubles up to T2; in
                    // Proceeding it is T2.
                    self.interval = match self.state {
                        State::Proceeding => timers.t2,
                        _ => (self.interval * 2).min(timers.t2),
                    };
                    self.retransmit_at = Some(now + self.interval);
                    outcome.retransmit = Some(self.request.clone());
                }
            }
        }
        outcome
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Completed { until } => Some(until),
            State::Trying | State::Proceeding => Some(
                self.retransmit_at
                    .map_or(self.give_up_at, |at| at.min(self.give_up_at)),
            ),
        }
    }
}
