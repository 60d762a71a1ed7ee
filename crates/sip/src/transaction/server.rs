//! Server transactions: INVITE (RFC 3261 §17.2.1, with the Accepted state of RFC 6026) and
//! non-INVITE (§17.2.2).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::event::{DialogId, Transport};
use crate::message::Request;
use crate::transaction::{Timers, TransactionKey};

/// INVITE server transaction states; Terminated is the transaction being dropped.
#[derive(Debug)]
enum InviteState {
    Proceeding {
        last_provisional: Option<Vec<u8>>,
    },
    /// A 3xx–6xx was sent; Timer G retransmits it over UDP, Timer H gives up on the ACK.
    Completed {
        response: Vec<u8>,
        retransmit_at: Option<Instant>,
        interval: Duration,
        give_up_at: Instant,
    },
    /// The ACK arrived; Timer I absorbs ACK retransmissions.
    Confirmed {
        until: Instant,
    },
    /// RFC 6026 §7.1: a 2xx was sent; Timer L absorbs INVITE retransmissions while the
    /// dialog layer retransmits the 2xx.
    Accepted {
        until: Instant,
    },
}

/// Non-INVITE server transaction states.
#[derive(Debug)]
enum NonInviteState {
    Trying,
    Proceeding {
        last_provisional: Vec<u8>,
    },
    /// Timer J absorbs request retransmissions.
    Completed {
        response: Vec<u8>,
        until: Instant,
    },
}

#[derive(Debug)]
enum State {
    Invite(InviteState),
    NonInvite(NonInviteState),
}

/// What an ACK matched to an INVITE server transaction means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    /// Retransmission or stray: nothing to do.
    Absorbed,
    /// The ACK for our non-2xx final; the transaction ended (reliable transport).
    Terminated,
    /// RFC 6026 §8.4: an ACK in the Accepted state goes to the dialog (ACK for a 2xx).
    ForDialog,
}

/// What a timer did.
#[derive(Debug, Default)]
pub(crate) struct ServerTimerOutcome {
    pub retransmit: Option<Vec<u8>>,
    pub terminated: bool,
    /// The application was given the request and has not answered by its deadline.
    pub answer_overdue: bool,
}

/// A request we received and answer (or have answered).
#[derive(Debug)]
pub(crate) struct ServerTransaction {
    pub key: TransactionKey,
    /// The request, with `received`/`rport` already added to its top Via.
    pub request: Request,
    /// Where responses go (RFC 3261 §18.2.2).
    pub reply_to: SocketAddr,
    pub transport: Transport,
    /// Our To tag for responses in this transaction.
    pub to_tag: String,
    pub dialog: Option<DialogId>,
    /// The application holds the request and owes the final response.
    pub awaiting_application: bool,
    pub answer_deadline: Option<Instant>,
    state: State,
}

impl ServerTransaction {
    pub fn new(
        key: TransactionKey,
        request: Request,
        reply_to: SocketAddr,
        transport: Transport,
        to_tag: String,
    ) -> ServerTransaction {
        let state = if request.method == crate::Method::Invite {
            State::Invite(InviteState::Proceeding {
                last_provisional: None,
            })
        } else {
            State::NonInvite(NonInviteState::Trying)
        };
        ServerTransaction {
            key,
            request,
            reply_to,
            transport,
            to_tag,
            dialog: None,
            awaiting_application: false,
            answer_deadline: None,
            state,
        }
    }

    pub fn is_invite(&self) -> bool {
        matches!(self.state, State::Invite(_))
    }

    /// Whether a final response has been sent.
    pub fn final_sent(&self) -> bool {
        !matches!(
            self.state,
            State::Invite(InviteState::Proceeding { .. })
                | State::NonInvite(NonInviteState::Trying | NonInviteState::Proceeding { .. })
        )
    }

    /// The response to resend when the request is retransmitted, if any.
    pub fn on_retransmission(&self) -> Option<Vec<u8>> {
        match &self.state {
            // RFC 3261 §17.2.1: in Proceeding the most recent provisional response MUST be
            // passed to the transport again; in Completed the final response.
            State::Invite(InviteState::Proceeding { last_provisional }) => last_provisional.clone(),
            State::Invite(InviteState::Completed { response, .. }) => Some(response.clone()),
            // RFC 6026 §7.1: retransmissions in Accepted are absorbed (the dialog layer
            // retransmits the 2xx); Confirmed absorbs too.
            State::Invite(InviteState::Confirmed { .. } | InviteState::Accepted { .. }) => None,
            // RFC 3261 §17.2.2: in Trying retransmissions are discarded.
            State::NonInvite(NonInviteState::Trying) => None,
            State::NonInvite(NonInviteState::Proceeding { last_provisional }) => {
                Some(last_provisional.clone())
            }
            State::NonInvite(NonInviteState::Completed { response, .. }) => Some(response.clone()),
        }
    }

    /// Records a provisional response that is being sent. Ignored once a final was sent.
    pub fn send_provisional(&mut self, bytes: Vec<u8>) {
        match &mut self.state {
            State::Invite(InviteState::Proceeding { last_provisional }) => {
                *last_provisional = Some(bytes);
            }
            State::NonInvite(
                state @ (NonInviteState::Trying | NonInviteState::Proceeding { .. }),
            ) => {
                *state = NonInviteState::Proceeding {
                    last_provisional: bytes,
                };
            }
            _ => {}
        }
    }

    /// Records a final response that is being sent. Returns `true` when the transaction is
    /// already over (reliable non-INVITE).
    pub fn send_final(
        &mut self,
        now: Instant,
        bytes: Vec<u8>,
        status: u16,
        timers: &Timers,
    ) -> bool {
        self.awaiting_application = false;
        self.answer_deadline = None;
        // Only the headers are needed once the final response is out (the body of an
        // INVITE is the bulk of its memory).
        self.request.body = Vec::new();
        let unreliable = !self.transport.is_reliable();
        match &mut self.state {
            State::Invite(state) => {
                *state = if (200..300).contains(&status) {
                    // RFC 6026 §7.1: a 2xx moves the transaction to Accepted; Timer L = 64*T1.
                    InviteState::Accepted {
                        until: now + timers.transaction_timeout(),
                    }
                } else {
                    // RFC 3261 §17.2.1: Timer G = T1 over unreliable transports only;
                    // Timer H = 64*T1 for all transports.
                    InviteState::Completed {
                        response: bytes,
                        retransmit_at: unreliable.then(|| now + timers.t1),
                        interval: timers.t1,
                        give_up_at: now + timers.transaction_timeout(),
                    }
                };
                false
            }
            State::NonInvite(state) => {
                // RFC 3261 §17.2.2: Timer J = 64*T1 for unreliable transports, zero for
                // reliable ones.
                if !unreliable {
                    return true;
                }
                *state = NonInviteState::Completed {
                    response: bytes,
                    until: now + timers.transaction_timeout(),
                };
                false
            }
        }
    }

    /// An ACK matched this (INVITE) transaction.
    pub fn on_ack(&mut self, now: Instant, timers: &Timers) -> AckOutcome {
        let State::Invite(state) = &mut self.state else {
            return AckOutcome::Absorbed;
        };
        match state {
            InviteState::Completed { .. } => {
                // RFC 3261 §17.2.1: Timer I = T4 for unreliable transports, zero for
                // reliable ones.
                if self.transport.is_reliable() {
                    return AckOutcome::Terminated;
                }
                *state = InviteState::Confirmed {
                    until: now + timers.t4,
                };
                AckOutcome::Absorbed
            }
            InviteState::Accepted { .. } => AckOutcome::ForDialog,
            InviteState::Proceeding { .. } | InviteState::Confirmed { .. } => AckOutcome::Absorbed,
        }
    }

    pub fn on_timer(&mut self, now: Instant, timers: &Timers) -> ServerTimerOutcome {
        let mut outcome = ServerTimerOutcome::default();
        if self.awaiting_application && self.answer_deadline.is_some_and(|deadline| deadline <= now)
        {
            outcome.answer_overdue = true;
        }
        match &mut self.state {
            State::Invite(InviteState::Completed {
                response,
                retransmit_at,
                interval,
                give_up_at,
            }) => {
                if *give_up_at <= now {
                    // RFC 3261 §17.2.1: Timer H fired without an ACK.
                    outcome.terminated = true;
                } else if retransmit_at.is_some_and(|at| at <= now) {
                    // RFC 3261 §17.2.1: Timer G doubles up to T2.
                    *interval = (*interval * 2).min(timers.t2);
                    *retransmit_at = Some(now + *interval);
                    outcome.retransmit = Some(response.clone());
                }
            }
            State::Invite(InviteState::Confirmed { until } | InviteState::Accepted { until })
            | State::NonInvite(NonInviteState::Completed { until, .. }) => {
                outcome.terminated = *until <= now;
            }
            State::Invite(InviteState::Proceeding { .. })
            | State::NonInvite(NonInviteState::Trying | NonInviteState::Proceeding { .. }) => {}
        }
        outcome
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let state_deadline = match &self.state {
            State::Invite(InviteState::Completed {
                retransmit_at,
                give_up_at,
                ..
            }) => Some(retransmit_at.map_or(*give_up_at, |at| at.min(*give_up_at))),
            State::Invite(InviteState::Confirmed { until } | InviteState::Accepted { until })
            | State::NonInvite(NonInviteState::Completed { until, .. }) => Some(*until),
            _ => None,
        };
        let answer = self.answer_deadline.filter(|_| self.awaiting_application);
        match (state_deadline, answer) {
            (Some(left), Some(right)) => Some(left.min(right)),
            (left, right) => left.or(right),
        }
    }
}
