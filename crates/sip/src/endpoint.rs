//! The UAS endpoint: feeds received bytes through the parser, the transaction layer and the
//! dialogs, answers what it can answer itself (retransmissions, OPTIONS, CANCEL, BYE,
//! errors) and hands the rest to the application as [`Event`]s.
//!
//! The caller drives it: `handle_input(now, from, transport, bytes)` for every datagram or
//! stream read, `handle_timeout(now)` when `poll_timeout()` passes, and drains
//! `poll_transmit()` and `poll_event()` after each call.

mod incoming;
mod outgoing;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::dialog::{Dialog, DialogKey};
use crate::event::{
    ClientTransactionId, DialogId, Event, ServerTransactionId, Transmit, Transport,
};
use crate::framer::{Frame, StreamFramer};
use crate::message::{Message, Method};
use crate::parse::{Limits, ParseError, parse_message};
use crate::transaction::{ClientTransaction, ServerTransaction, Timers, TransactionKey};

/// The methods this endpoint implements (the Allow header field).
pub(crate) const ALLOWED_METHODS: &[Method] = &[
    Method::Invite,
    Method::Ack,
    Method::Bye,
    Method::Cancel,
    Method::Options,
    Method::Update,
    Method::Info,
];

/// How the endpoint presents itself and how long it waits.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// `host[:port]` for the Via of requests we send.
    pub via_sent_by: String,
    /// The Contact value for dialog-creating responses and target refreshes, e.g.
    /// `<sip:srs@192.0.2.10:5060>;+sip.srs` (RFC 7866 §6.2 wants `+sip.srs` there). An
    /// application can override it per response by passing its own Contact.
    pub contact: String,
    /// Server / User-Agent header value; `None` sends none.
    pub user_agent: Option<String>,
    /// Option tags we understand (Supported; anything else in Require gets a 420).
    pub supported: Vec<String>,
    /// Body types we accept (the Accept header of OPTIONS answers).
    pub accept: Vec<String>,
    pub timers: Timers,
    pub limits: Limits,
    /// RFC 3261 §17.2.1: send 100 Trying as soon as an INVITE arrives.
    pub send_trying: bool,
    /// How long the application may take to answer a request before we answer 500.
    pub answer_timeout: Duration,
    /// Server transactions held at once; beyond it new requests get a stateless 503.
    pub max_server_transactions: usize,
    /// Dialogs held at once; beyond it new INVITEs get a 503.
    pub max_dialogs: usize,
    /// Seed of the generator of tags and branches (RFC 3261 §19.3 wants them
    /// cryptographically random: seed it from the operating system in production).
    pub seed: [u8; 32],
}

impl EndpointConfig {
    pub fn new(
        via_sent_by: impl Into<String>,
        contact: impl Into<String>,
        seed: [u8; 32],
    ) -> EndpointConfig {
        EndpointConfig {
            via_sent_by: via_sent_by.into(),
            contact: contact.into(),
            user_agent: Some("onrecord".to_owned()),
            supported: vec!["siprec".to_owned()],
            accept: vec![
                "application/sdp".to_owned(),
                "application/rs-metadata".to_owned(),
                "application/rs-metadata+xml".to_owned(),
                "multipart/mixed".to_owned(),
            ],
            timers: Timers::default(),
            limits: Limits::default(),
            send_trying: true,
            answer_timeout: Timers::default().transaction_timeout(),
            max_server_transactions: 100_000,
            max_dialogs: 200_000,
            seed,
        }
    }
}

/// What a timer entry points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerTarget {
    Server(ServerTransactionId),
    Client(ClientTransactionId),
    Dialog(DialogId),
}

/// A sans-IO SIP user agent server.
pub struct Endpoint {
    config: EndpointConfig,
    random: StdRng,
    next_id: u64,
    server_transactions: HashMap<ServerTransactionId, ServerTransaction>,
    server_keys: HashMap<TransactionKey, ServerTransactionId>,
    client_transactions: HashMap<ClientTransactionId, ClientTransaction>,
    client_keys: HashMap<(String, String), ClientTransactionId>,
    dialogs: HashMap<DialogId, Dialog>,
    dialog_keys: HashMap<DialogKey, DialogId>,
    framers: HashMap<(SocketAddr, Transport), StreamFramer>,
    /// Deadlines, earliest first; stale entries are checked against the target and skipped.
    timers: BinaryHeap<Reverse<(Instant, TimerTarget)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("server_transactions", &self.server_transactions.len())
            .field("client_transactions", &self.client_transactions.len())
            .field("dialogs", &self.dialogs.len())
            .field("connections", &self.framers.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    pub fn new(config: EndpointConfig) -> Endpoint {
        Endpoint {
            random: StdRng::from_seed(config.seed),
            config,
            next_id: 0,
            server_transactions: HashMap::new(),
            server_keys: HashMap::new(),
            client_transactions: HashMap::new(),
            client_keys: HashMap::new(),
            dialogs: HashMap::new(),
            dialog_keys: HashMap::new(),
            framers: HashMap::new(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Bytes received from `from`: one datagram for UDP, the next chunk of the connection's
    /// byte stream for TCP/TLS.
    pub fn handle_input(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        bytes: &[u8],
    ) {
        if !transport.is_reliable() {
            match parse_message(bytes, &self.config.limits) {
                Ok(message) => self.handle_message(now, from, transport, message),
                Err(error) => self.handle_parse_error(from, transport, &error),
            }
            return;
        }
        let key = (from, transport);
        let limits = self.config.limits;
        let framer = self
            .framers
            .entry(key)
            .or_insert_with(|| StreamFramer::new(limits));
        if let Err(error) = framer.push(bytes) {
            self.connection_failed(from, transport, error);
            return;
        }
        loop {
            let Some(framer) = self.framers.get_mut(&key) else {
                return;
            };
            let broken_before = framer.is_broken();
            let Some(frame) = framer.next_frame() else {
                return;
            };
            let broken = !broken_before && framer.is_broken();
            match frame {
                Ok(Frame::Message(message)) => self.handle_message(now, from, transport, message),
                // RFC 5626 §4.4.1: answer a CRLFCRLF ping with a CRLF pong.
                Ok(Frame::KeepAlivePing) => self.transmit(from, transport, b"\r\n".to_vec()),
                Err(error) => {
                    self.handle_parse_error(from, transport, &error);
                    if broken {
                        self.connection_failed(from, transport, error);
                        return;
                    }
                }
            }
        }
    }

    /// The driver closed (or lost) a stream connection.
    pub fn handle_connection_closed(&mut self, remote: SocketAddr, transport: Transport) {
        self.framers.remove(&(remote, transport));
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        while let Some(Reverse((deadline, target))) = self.timers.peek().copied() {
            if deadline > now {
                break;
            }
            self.timers.pop();
            if !due.contains(&target) {
                due.push(target);
            }
        }
        for target in due {
            match target {
                TimerTarget::Server(id) => self.server_timer(now, id),
                TimerTarget::Client(id) => self.client_timer(now, id),
                TimerTarget::Dialog(id) => self.dialog_timer(now, id),
            }
        }
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` should next be called (possibly early: a timer that was
    /// cancelled still wakes the caller once).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((deadline, _))| *deadline)
    }

    pub fn dialog(&self, id: DialogId) -> Option<&Dialog> {
        self.dialogs.get(&id)
    }

    pub fn dialog_count(&self) -> usize {
        self.dialogs.len()
    }

    /// Server and client transactions in progress.
    pub fn transaction_count(&self) -> usize {
        self.server_transactions.len() + self.client_transactions.len()
    }

    fn handle_message(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        message: Message,
    ) {
        match message {
            Message::Request(request) => self.handle_request(now, from, transport, request),
            Message::Response(response) => self.handle_response(now, response),
        }
    }

    /// RFC 3261 §21.4.1 and friends: answer a malformed request statelessly when its head
    /// was readable enough; drop anything else.
    fn handle_parse_error(&mut self, from: SocketAddr, transport: Transport, error: &ParseError) {
        let Some(request) = error.salvaged_request() else {
            return;
        };
        if request.method == Method::Ack {
            return;
        }
        let mut request = request.clone();
        let Ok(mut top_via) = request.headers.top_via() else {
            return;
        };
        let reply_to = incoming::stamp_via(&mut request, &mut top_via, from, transport);
        let tag = self.new_tag();
        let reason = error.kind().to_string();
        let mut response =
            crate::build::response_to(&request, error.status_code(), &reason, Some(&tag));
        self.add_server_header(&mut response.headers);
        self.transmit(reply_to, transport, response.to_bytes());
    }

    fn connection_failed(&mut self, remote: SocketAddr, transport: Transport, error: ParseError) {
        self.framers.remove(&(remote, transport));
        self.events.push_back(Event::ConnectionUnusable {
            remote,
            transport,
            error,
        });
    }

    fn server_timer(&mut self, now: Instant, id: ServerTransactionId) {
        let timers = self.config.timers;
        let Some(transaction) = self.server_transactions.get_mut(&id) else {
            return;
        };
        let outcome = transaction.on_timer(now, &timers);
        let (reply_to, transport, dialog) = (
            transaction.reply_to,
            transaction.transport,
            transaction.dialog,
        );
        if let Some(bytes) = outcome.retransmit {
            self.transmit(reply_to, transport, bytes);
        }
        if outcome.terminated {
            self.remove_server_transaction(id);
            return;
        }
        if outcome.answer_overdue {
            self.answer_overdue(now, id, dialog);
        }
        self.schedule_server(id);
    }

    fn client_timer(&mut self, now: Instant, id: ClientTransactionId) {
        let timers = self.config.timers;
        let Some(transaction) = self.client_transactions.get_mut(&id) else {
            return;
        };
        let outcome = transaction.on_timer(now, &timers);
        let (destination, transport, dialog, report, method) = (
            transaction.destination,
            transaction.transport,
            transaction.dialog,
            transaction.report,
            transaction.method.clone(),
        );
        if let Some(bytes) = outcome.retransmit {
            self.transmit(destination, transport, bytes);
        }
        if outcome.timed_out {
            if report {
                self.events.push_back(Event::RequestTimedOut {
                    transaction: id,
                    dialog,
                });
            }
            // RFC 3261 §12.2.1.2: "A UAC SHOULD also terminate a dialog if no response at
            // all is received for the request".
            if method != Method::Bye {
                self.end_dialog(
                    now,
                    dialog,
                    crate::DialogEndReason::RequestFailed { status: None },
                );
            }
        }
        if outcome.terminated {
            self.remove_client_transaction(id);
        } else {
            self.schedule(
                self.client_transactions
                    .get(&id)
                    .and_then(ClientTransaction::next_deadline),
                TimerTarget::Client(id),
            );
        }
    }

    fn dialog_timer(&mut self, now: Instant, id: DialogId) {
        let timers = self.config.timers;
        let Some(dialog) = self.dialogs.get_mut(&id) else {
            return;
        };
        let outcome = dialog.on_timer(now, &timers);
        let transport = dialog.transport;
        if let Some((destination, bytes)) = outcome.retransmit {
            self.transmit(destination, transport, bytes);
        }
        if outcome.ack_timeout {
            // RFC 3261 §13.3.1.4: no ACK after 64*T1: "the dialog is confirmed, but the
            // session SHOULD be terminated. This is accomplished with a BYE."
            self.send_bye_and_end(now, id, crate::DialogEndReason::AckTimeout);
            return;
        }
        self.schedule_dialog(id);
    }

    fn schedule(&mut self, deadline: Option<Instant>, target: TimerTarget) {
        if let Some(deadline) = deadline {
            self.timers.push(Reverse((deadline, target)));
        }
    }

    fn schedule_server(&mut self, id: ServerTransactionId) {
        let deadline = self
            .server_transactions
            .get(&id)
            .and_then(ServerTransaction::next_deadline);
        self.schedule(deadline, TimerTarget::Server(id));
    }

    fn schedule_dialog(&mut self, id: DialogId) {
        let deadline = self.dialogs.get(&id).and_then(Dialog::next_deadline);
        self.schedule(deadline, TimerTarget::Dialog(id));
    }

    fn remove_server_transaction(&mut self, id: ServerTransactionId) {
        if let Some(transaction) = self.server_transactions.remove(&id)
            && self.server_keys.get(&transaction.key) == Some(&id)
        {
            self.server_keys.remove(&transaction.key);
        }
    }

    fn remove_client_transaction(&mut self, id: ClientTransactionId) {
        if let Some(transaction) = self.client_transactions.remove(&id) {
            self.client_keys
                .remove(&(transaction.branch, transaction.method.as_str().to_owned()));
        }
    }

    fn transmit(&mut self, destination: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit {
            destination,
            transport,
            bytes,
        });
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// RFC 3261 §19.3: tags carry at least 32 bits of randomness; we use 64.
    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.random.next_u64())
    }

    /// RFC 3261 §8.1.1.7: branches start with the magic cookie `z9hG4bK`.
    fn new_branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.random.next_u64())
    }

    fn add_server_header(&self, headers: &mut crate::Headers) {
        if let Some(user_agent) = &self.config.user_agent
            && !headers.contains("Server")
        {
            headers.push("Server", crate::build::sanitize_value(user_agent));
        }
    }

    fn allow_value() -> String {
        ALLOWED_METHODS
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
