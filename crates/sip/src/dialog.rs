//! Dialogs on the UAS side (RFC 3261 §12): created by our 2xx to an INVITE, identified by
//! Call-ID + our tag + the peer's tag, holding the route set, the remote target, both CSeq
//! spaces and the 2xx retransmission that runs until the ACK (§13.3.1.4).

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::build::{RESPONSE_OWNED_HEADERS, sanitize_value};
use crate::event::{ClientTransactionId, DialogId, ServerTransactionId, Transport};
use crate::headers::{NameAddr, SipUri};
use crate::message::{Headers, Method, Request};
use crate::transaction::Timers;

/// How dialogs are found: Call-ID, local tag, remote tag (RFC 3261 §12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DialogKey {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

/// Our 2xx to an INVITE, retransmitted until the ACK (RFC 3261 §13.3.1.4).
#[derive(Debug)]
pub(crate) struct PendingAck {
    pub invite_sequence: u32,
    response: Vec<u8>,
    destination: SocketAddr,
    retransmit_at: Instant,
    interval: Duration,
    give_up_at: Instant,
}

/// A BYE the application asked for before the ACK arrived; RFC 3261 §15: "The callee's UA
/// MUST NOT send a BYE on a confirmed dialog until it has received an ACK for its 2xx
/// response or until the server transaction times out."
#[derive(Debug)]
pub(crate) struct DeferredBye {
    pub transaction: ClientTransactionId,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// What a dialog timer did.
#[derive(Debug, Default)]
pub(crate) struct DialogTimerOutcome {
    pub retransmit: Option<(SocketAddr, Vec<u8>)>,
    pub ack_timeout: bool,
}

/// One dialog. Read-only to the application through its accessors.
pub struct Dialog {
    pub(crate) id: DialogId,
    pub(crate) key: DialogKey,
    /// The To of the INVITE with our tag: the From of requests we send.
    pub(crate) local_party: String,
    /// The From of the INVITE: the To of requests we send.
    pub(crate) remote_party: String,
    pub(crate) remote_target: String,
    pub(crate) route_set: Vec<String>,
    pub(crate) remote_sequence: u32,
    pub(crate) local_sequence: u32,
    pub(crate) transport: Transport,
    /// Where the INVITE came from.
    pub(crate) flow: SocketAddr,
    pub(crate) pending_ack: Option<PendingAck>,
    /// A re-INVITE the application has not answered yet.
    pub(crate) pending_invite: Option<ServerTransactionId>,
    /// Every in-dialog request the application has not answered yet.
    pub(crate) pending_requests: Vec<ServerTransactionId>,
    pub(crate) deferred_bye: Option<DeferredBye>,
}

impl Dialog {
    /// RFC 3261 §12.1.1: the UAS builds the dialog state from the INVITE it answers 2xx.
    pub(crate) fn from_invite(
        id: DialogId,
        request: &Request,
        local_tag: &str,
        transport: Transport,
        flow: SocketAddr,
    ) -> Option<Dialog> {
        let headers = &request.headers;
        let call_id = headers.call_id().ok()?.to_owned();
        let from = headers.from().ok()?;
        let to = headers.first("To")?;
        let cseq = headers.cseq().ok()?;
        // RFC 3261 §12.1.1: "The remote target MUST be set to the URI from the Contact
        // header field of the request."
        let remote_target = headers.contacts().ok()?.first()?.uri().to_owned();
        // RFC 3261 §12.1.1: "The route set MUST be set to the list of URIs in the
        // Record-Route header field from the request, taken in order".
        // A Record-Route we cannot read is left out rather than failing the dialog.
        let route_set = headers
            .record_routes()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        Some(Dialog {
            id,
            key: DialogKey {
                call_id,
                local_tag: local_tag.to_owned(),
                remote_tag: from.tag().unwrap_or_default().to_owned(),
            },
            local_party: format!("{to};tag={local_tag}"),
            remote_party: headers.first("From")?.to_owned(),
            remote_target,
            route_set,
            // RFC 3261 §12.1.1: the remote sequence number is the CSeq of the request; the
            // local one is empty until we send a request (§12.2.1.1 picks 1 here).
            remote_sequence: cseq.sequence,
            local_sequence: 0,
            transport,
            flow,
            pending_ack: None,
            pending_invite: None,
            pending_requests: Vec::new(),
            deferred_bye: None,
        })
    }

    pub fn id(&self) -> DialogId {
        self.id
    }

    pub fn call_id(&self) -> &str {
        &self.key.call_id
    }

    pub fn local_tag(&self) -> &str {
        &self.key.local_tag
    }

    pub fn remote_tag(&self) -> &str {
        &self.key.remote_tag
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The source address of the INVITE that created the dialog.
    pub fn remote_address(&self) -> SocketAddr {
        self.flow
    }

    /// Whether our 2xx still waits for its ACK.
    pub fn awaiting_ack(&self) -> bool {
        self.pending_ack.is_some()
    }

    /// RFC 3261 §12.2.2: a target refresh request (re-INVITE, UPDATE) with a Contact
    /// replaces the remote target once accepted.
    pub(crate) fn refresh_target(&mut self, request: &Request) {
        if let Ok(contacts) = request.headers.contacts()
            && let Some(contact) = contacts.first()
        {
            self.remote_target = contact.uri().to_owned();
        }
    }

    pub(crate) fn start_2xx_retransmission(
        &mut self,
        now: Instant,
        invite_sequence: u32,
        response: Vec<u8>,
        destination: SocketAddr,
        timers: &Timers,
    ) {
        // RFC 3261 §13.3.1.4: the interval starts at T1 and doubles up to T2; give up after
        // 64*T1.
        self.pending_ack = Some(PendingAck {
            invite_sequence,
            response,
            destination,
            retransmit_at: now + timers.t1,
            interval: timers.t1,
            give_up_at: now + timers.transaction_timeout(),
        });
    }

    /// An ACK for `sequence` arrived: true when it acknowledges our pending 2xx.
    pub(crate) fn on_ack(&mut self, sequence: u32) -> bool {
        let matches = self
            .pending_ack
            .as_ref()
            .is_some_and(|pending| pending.invite_sequence == sequence);
        if matches {
            self.pending_ack = None;
        }
        matches
    }

    pub(crate) fn on_timer(&mut self, now: Instant, timers: &Timers) -> DialogTimerOutcome {
        let mut outcome = DialogTimerOutcome::default();
        let Some(pending) = &mut self.pending_ack else {
            return outcome;
        };
        if pending.give_up_at <= now {
            self.pending_ack = None;
            outcome.ack_timeout = true;
        } else if pending.retransmit_at <= now {
            pending.interval = (pending.interval * 2).min(timers.t2);
            pending.retransmit_at = now + pending.interval;
            outcome.retransmit = Some((pending.destination, pending.response.clone()));
        }
        outcome
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.pending_ack
            .as_ref()
            .map(|pending| pending.retransmit_at.min(pending.give_up_at))
    }

    /// A request in this dialog (RFC 3261 §12.2.1.1), with the next local CSeq.
    pub(crate) fn build_request(
        &mut self,
        method: &Method,
        via: String,
        contact: &str,
        user_agent: Option<&str>,
        extra: &Headers,
        body: Vec<u8>,
    ) -> Request {
        // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
        self.local_sequence = (self.local_sequence + 1) % 0x8000_0000;
        let (uri, routes) = self.request_uri_and_routes();
        let mut headers = Headers::new()
            .with("Via", via)
            .with("Max-Forwards", "70")
            .with("From", self.local_party.clone())
            .with("To", self.remote_party.clone())
            .with("Call-ID", self.key.call_id.clone())
            .with("CSeq", format!("{} {method}", self.local_sequence));
        for route in routes {
            headers.push("Route", route);
        }
        // RFC 3311 §5.1: UPDATE is a target refresh request and carries a Contact.
        if *method == Method::Update && !extra.contains("Contact") {
            headers.push("Contact", contact);
        }
        if let Some(user_agent) = user_agent
            && !extra.contains("User-Agent")
        {
            headers.push("User-Agent", user_agent);
        }
        for header in extra {
            if RESPONSE_OWNED_HEADERS.iter().any(|owned| header.is(owned))
                || header.is("Route")
                || header.is("Max-Forwards")
            {
                continue;
            }
            headers.push(
                sanitize_value(header.name()),
                sanitize_value(header.value()),
            );
        }
        Request {
            method: method.clone(),
            uri,
            headers,
            body,
        }
    }

    /// RFC 3261 §12.2.1.1: loose routing keeps the remote target as Request-URI; a strict
    /// router (no `lr`) takes the Request-URI and the remote target goes last in Route.
    fn request_uri_and_routes(&self) -> (String, Vec<String>) {
        let first = self
            .route_set
            .first()
            .and_then(|route| NameAddr::parse(route, "Route").ok());
        match first {
            None => (self.remote_target.clone(), Vec::new()),
            Some(first)
                if first.has_param("lr")
                    || SipUri::parse(first.uri()).is_some_and(|uri| uri.params.contains("lr")) =>
            {
                (self.remote_target.clone(), self.route_set.clone())
            }
            Some(first) => {
                let mut routes: Vec<String> = self.route_set.iter().skip(1).cloned().collect();
                routes.push(format!("<{}>", self.remote_target));
                (first.uri().to_owned(), routes)
            }
        }
    }

    /// Where a request we send goes: over a reliable transport, the connection the dialog
    /// came on (connection reuse); over UDP, the next hop (top Route or remote target) when
    /// it names an IP address, else the source of the INVITE (no DNS in this crate).
    pub(crate) fn next_hop(&self, request: &Request) -> SocketAddr {
        if self.transport.is_reliable() {
            return self.flow;
        }
        let next_uri = match request.headers.first("Route") {
            Some(route) => NameAddr::parse(route, "Route")
                .ok()
                .map(|route| route.uri().to_owned()),
            None => Some(request.uri.clone()),
        };
        next_uri
            .and_then(|uri| SipUri::parse(&uri))
            .and_then(|uri| uri.socket_addr())
            .unwrap_or(self.flow)
    }
}

impl fmt::Debug for Dialog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialog")
            .field("id", &self.id)
            .field("call_id", &self.key.call_id)
            .field("transport", &self.transport)
            .field("remote_sequence", &self.remote_sequence)
            .field("local_sequence", &self.local_sequence)
            .field("awaiting_ack", &self.pending_ack.is_some())
            .finish_non_exhaustive()
    }
}
