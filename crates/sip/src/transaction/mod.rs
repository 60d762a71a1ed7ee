//! RFC 3261 §17 transactions, as plain state machines: they are given `now`, the bytes of
//! the responses or requests to (re)send, and return what to transmit and when they end.
//! Timers run only on the caller's clock.

mod client;
mod server;

use std::time::Duration;

use crate::headers::Via;
use crate::message::{Headers, Method};

pub(crate) use client::ClientTransaction;
pub(crate) use server::{AckOutcome, ServerTransaction};

/// RFC 3261 §17.1.1.1 and Table 4 timer values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, default 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J and L, and the 2xx retransmission limit (§13.3.1.4).
    pub fn transaction_timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// How a request is matched to a server transaction (RFC 3261 §17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TransactionKey {
    /// The branch starts with the magic cookie: branch + sent-by + method, where ACK counts
    /// as INVITE.
    Rfc3261 {
        branch: String,
        sent_by: String,
        method: String,
    },
    /// An RFC 2543 peer: Call-ID, CSeq number, From tag, top Via and method.
    Legacy {
        call_id: String,
        sequence: u32,
        from_tag: String,
        via: String,
        method: String,
    },
}

impl TransactionKey {
    /// The key of the server transaction `method` (with these headers) belongs to. `method`
    /// is given separately so that CANCEL can look up its INVITE (RFC 3261 §9.2).
    pub(crate) fn for_server(method: &Method, top_via: &Via, headers: &Headers) -> TransactionKey {
        // RFC 3261 §17.2.3: "the method of the request matches the one that created the
        // transaction, except for ACK, where the method of the request that created the
        // transaction is INVITE".
        let method = match method {
            Method::Ack => Method::Invite.as_str().to_owned(),
            other => other.as_str().to_owned(),
        };
        match top_via.branch() {
            Some(branch) if top_via.has_rfc3261_branch() => TransactionKey::Rfc3261 {
                branch: branch.to_owned(),
                sent_by: top_via.sent_by().to_ascii_lowercase(),
                method,
            },
            _ => TransactionKey::Legacy {
                call_id: headers.call_id().unwrap_or_default().to_owned(),
                sequence: headers.cseq().map(|cseq| cseq.sequence).unwrap_or_default(),
                from_tag: headers
                    .from()
                    .ok()
                    .and_then(|from| from.tag().map(str::to_owned))
                    .unwrap_or_default(),
                via: top_via.sent_by().to_ascii_lowercase(),
                method,
            },
        }
    }
}
