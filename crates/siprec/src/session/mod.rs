//! The recording server (SRS, RFC 7866) on top of the sans-IO SIP endpoint: it decides every
//! INVITE (allowed client, recording session or accepted legacy dialect, readable body,
//! consent evidence), answers with `recvonly` ports, follows re-INVITEs and UPDATEs
//! (metadata updates, pause/resume, participants joining and leaving), asks for metadata
//! snapshots and ends sessions.
//!
//! Sans-IO like the rest of the crate: the driver feeds bytes with `now` (monotonic) and
//! `wall` (UTC), drains [`RecordingServer::poll_transmit`] and
//! [`RecordingServer::poll_event`], and calls [`RecordingServer::handle_timeout`] at
//! [`RecordingServer::poll_timeout`]. Media ports come from a [`PortAllocator`] the server
//! owns, so an answer is built within the call that received the offer.

mod error;
mod events;
mod offer;
mod ports;
mod state;
mod view;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use consent::{Attestation, ConsentRules};
use model::{RecordingId, TenantId};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sdp::SdpSession;
use sip::{
    DialogEndReason, DialogId, Endpoint, EndpointConfig, Event, Headers, Method, Request,
    ServerTransactionId, Transmit, Transport, Warning,
};

pub use error::{Culprit, SessionError, SipRejection, sip_rejection};
pub use events::{
    EndReason, PauseReason, Refusal, SessionEvent, SessionParticipant, SessionStarted,
    StreamActivity, StreamPlan,
};
pub use ports::{PortAllocator, PortPool};
pub use state::SessionPhase;
pub use view::UNIDENTIFIED_PARTICIPANT;

use offer::{answer_offer, probe_lines, read_body, request_facts};
use state::{Answering, Session, SessionCore};
use view::{evaluate, gate};

use crate::{MetadataState, SessionKind, classify};

/// A configured recording client, matched by the driver from the request's source (address,
/// TLS identity or credentials).
#[derive(Debug, Clone)]
pub struct ClientPolicy {
    pub name: String,
    pub tenant: TenantId,
    pub rules: ConsentRules,
    /// The client's standing attestation ("plays a recording notice to every party").
    pub attestation: Option<Attestation>,
    /// Accept sessions without `+sip.src`/`Require: siprec` (RFC 7866 §6.1.1 leaves them to
    /// the server): legacy metadata dialects and plain SDP INVITEs.
    pub accept_legacy: bool,
}

/// How the recording server presents itself and what it bounds.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The SIP endpoint's configuration. Its `contact` gets `;+sip.srs` when it lacks it
    /// (RFC 7866 §6.2).
    pub endpoint: EndpointConfig,
    /// The address written in SDP answers; RTP is received there.
    pub media_address: IpAddr,
    /// The agent of `Warning: 399 <agent> "…"` (RFC 3261 §20.43).
    pub warning_agent: String,
    /// Sessions held at once; beyond it a new INVITE gets 503 with Retry-After.
    pub max_sessions: usize,
    pub retry_after_seconds: u32,
    /// Seeds recording ids and SDP session ids (seed it from the operating system).
    pub seed: [u8; 32],
}

impl ServerConfig {
    pub fn new(endpoint: EndpointConfig, media_address: IpAddr, seed: [u8; 32]) -> ServerConfig {
        let agent = endpoint
            .via_sent_by
            .split(':')
            .next()
            .filter(|host| !host.is_empty())
            .unwrap_or("onrecord")
            .to_owned();
        ServerConfig {
            endpoint,
            media_address,
            warning_agent: agent,
            max_sessions: 10_000,
            retry_after_seconds: 5,
            seed,
        }
    }
}

/// Misuse of the control API by the driver.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("unknown or ended recording session")]
    UnknownSession,
    #[error("the session is ending")]
    SessionEnding,
    #[error(transparent)]
    Sip(#[from] sip::Error),
}

/// The body of a snapshot request (RFC 7865 §7, RFC 7866 §9.2).
const SNAPSHOT_REQUEST: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
<requestsnapshot xmlns='urn:ietf:params:xml:ns:recording:1'>\r\n\
<requestreason xml:lang=\"en\">recording server needs a complete metadata snapshot</requestreason>\r\n\
</requestsnapshot>\r\n";

/// A sans-IO SIPREC recording server.
#[derive(Debug)]
pub struct RecordingServer<A: PortAllocator> {
    config: ServerConfig,
    contact: String,
    endpoint: Endpoint,
    allocator: A,
    random: StdRng,
    sessions: HashMap<RecordingId, Session>,
    by_dialog: HashMap<DialogId, RecordingId>,
    events: VecDeque<SessionEvent>,
}

impl<A: PortAllocator> RecordingServer<A> {
    pub fn new(mut config: ServerConfig, allocator: A) -> RecordingServer<A> {
        // RFC 7866 §6.2: "The SRS MUST include the "+sip.srs" feature tag in the Contact URI".
        if !config
            .endpoint
            .contact
            .to_ascii_lowercase()
            .contains("+sip.srs")
        {
            config.endpoint.contact.push_str(";+sip.srs");
        }
        if !config
            .endpoint
            .supported
            .iter()
            .any(|tag| tag.eq_ignore_ascii_case("siprec"))
        {
            config.endpoint.supported.push("siprec".to_owned());
        }
        RecordingServer {
            contact: config.endpoint.contact.clone(),
            endpoint: Endpoint::new(config.endpoint.clone()),
            random: StdRng::from_seed(config.seed),
            config,
            allocator,
            sessions: HashMap::new(),
            by_dialog: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Bytes from `remote`. `client` is the configured recording client the driver matched
    /// the source to, `None` when it matches none.
    pub fn handle_input(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        remote: SocketAddr,
        transport: Transport,
        bytes: &[u8],
        client: Option<Arc<ClientPolicy>>,
    ) {
        self.endpoint.handle_input(now, remote, transport, bytes);
        self.drain(now, wall, client.as_ref());
    }

    /// The driver closed or lost a stream connection.
    pub fn handle_connection_closed(&mut self, remote: SocketAddr, transport: Transport) {
        self.endpoint.handle_connection_closed(remote, transport);
    }

    pub fn handle_timeout(&mut self, now: Instant, wall: DateTime<Utc>) {
        self.endpoint.handle_timeout(now);
        self.drain(now, wall, None);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.endpoint.poll_timeout()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.endpoint.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The current streams of a session.
    pub fn streams(&self, session: RecordingId) -> Option<Vec<StreamPlan>> {
        self.sessions
            .get(&session)
            .map(|session| session.core().view.streams())
    }

    pub fn phase(&self, session: RecordingId) -> Option<SessionPhase> {
        self.sessions.get(&session).map(Session::phase)
    }

    pub fn allocator(&self) -> &A {
        &self.allocator
    }

    /// RFC 7866 §9.2: asks the client for a complete metadata snapshot, in an UPDATE of its
    /// own ("MUST NOT request a full metadata snapshot in an UPDATE response or in any other
    /// SIP transaction").
    pub fn request_snapshot(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        session: RecordingId,
    ) -> Result<(), ControlError> {
        let result = self.send_snapshot_request(now, session);
        self.drain(now, wall, None);
        result
    }

    /// Ends a session with a BYE (sent once the ACK is in, RFC 3261 §15).
    /// [`SessionEvent::SessionEnded`] follows with `reason`.
    pub fn end_session(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        session: RecordingId,
        reason: EndReason,
    ) -> Result<(), ControlError> {
        let current = self
            .sessions
            .remove(&session)
            .ok_or(ControlError::UnknownSession)?;
        if let Session::Terminating(_) = current {
            self.sessions.insert(session, current);
            return Err(ControlError::SessionEnding);
        }
        let dialog = current.core().dialog;
        self.sessions.insert(session, current.terminate(reason));
        if let Err(error) =
            self.endpoint
                .send_request(now, dialog, Method::Bye, Headers::new(), Vec::new())
        {
            // The dialog is already gone: the session ends here.
            self.finish(dialog, reason, wall);
            return Err(error.into());
        }
        self.drain(now, wall, None);
        Ok(())
    }

    fn drain(&mut self, now: Instant, wall: DateTime<Utc>, client: Option<&Arc<ClientPolicy>>) {
        loop {
            let batch: Vec<Event> = std::iter::from_fn(|| self.endpoint.poll_event()).collect();
            if batch.is_empty() {
                return;
            }
            // An INVITE and its CANCEL read in one go (a stream transport): the endpoint has
            // answered 487 already, so nothing is decided and nothing is recorded.
            let cancelled: HashSet<ServerTransactionId> = batch
                .iter()
                .filter_map(|event| match event {
                    Event::Cancelled {
                        transaction,
                        dialog: None,
                    } => Some(*transaction),
                    _ => None,
                })
                .collect();
            for event in batch {
                self.on_event(now, wall, client, &cancelled, event);
            }
        }
    }

    fn on_event(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        client: Option<&Arc<ClientPolicy>>,
        cancelled: &HashSet<ServerTransactionId>,
        event: Event,
    ) {
        match event {
            Event::IncomingInvite {
                transaction,
                request,
                ..
            } => {
                if !cancelled.contains(&transaction) {
                    self.on_invite(now, wall, transaction, &request, client);
                }
            }
            Event::InDialogRequest {
                dialog,
                transaction,
                request,
            } => self.on_in_dialog(now, wall, dialog, transaction, &request),
            Event::AckReceived { dialog, .. } => {
                if let Some(id) = self.by_dialog.get(&dialog).copied()
                    && let Some(session) = self.sessions.remove(&id)
                {
                    self.sessions.insert(id, session.acknowledged());
                }
            }
            Event::DialogEnded { dialog, reason } => {
                let reason = match reason {
                    DialogEndReason::RemoteBye => EndReason::Bye,
                    DialogEndReason::LocalBye => EndReason::Operator,
                    DialogEndReason::AckTimeout => EndReason::AckTimeout,
                    DialogEndReason::RequestFailed { status } => EndReason::DialogFailed { status },
                };
                self.finish(dialog, reason, wall);
            }
            Event::ResponseReceived {
                dialog, response, ..
            } => {
                // A refused snapshot request may be asked again later.
                if response.status >= 300
                    && let Some(id) = self.by_dialog.get(&dialog)
                    && let Some(core) = self.sessions.get_mut(id).and_then(Session::live_core_mut)
                {
                    core.snapshot_requested = false;
                }
            }
            Event::ConnectionUnusable {
                remote, transport, ..
            } => self
                .events
                .push_back(SessionEvent::ConnectionUnusable { remote, transport }),
            // Answers are synchronous, so nothing is pending when these arrive; a dialog that
            // fails reports DialogEnded.
            Event::Cancelled { .. }
            | Event::RequestExpired { .. }
            | Event::RequestTimedOut { .. } => {}
        }
    }

    /// The session of `dialog` is over: its ports go back and the driver hears why.
    fn finish(&mut self, dialog: DialogId, dialog_reason: EndReason, wall: DateTime<Utc>) {
        let Some(id) = self.by_dialog.remove(&dialog) else {
            return;
        };
        let Some(session) = self.sessions.remove(&id) else {
            return;
        };
        let reason = session.end_reason(dialog_reason);
        self.allocator.release(&session.core().ports());
        self.events.push_back(SessionEvent::SessionEnded {
            session: id,
            reason,
            ended_at: wall,
        });
    }

    fn warning_headers(&self, rejection: &SipRejection) -> Headers {
        let warning = Warning {
            code: 399,
            agent: self.config.warning_agent.clone(),
            text: rejection.warning.clone(),
        };
        let mut headers = Headers::new().with("Warning", warning.to_value());
        if let Some(seconds) = rejection.retry_after {
            headers.push("Retry-After", seconds.to_string());
        }
        headers
    }

    /// Answers a refused request and reports the refusal.
    #[allow(clippy::too_many_arguments)]
    fn refuse(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        transaction: ServerTransactionId,
        session: Option<RecordingId>,
        request: &Request,
        client: Option<&ClientPolicy>,
        error: &SessionError,
    ) {
        let rejection = sip_rejection(error, self.config.retry_after_seconds);
        let headers = self.warning_headers(&rejection);
        // The transaction may have been cancelled meanwhile; then there is nothing to answer.
        let _ = self
            .endpoint
            .respond(now, transaction, rejection.status, headers, Vec::new());
        self.events
            .push_back(SessionEvent::Refused(Box::new(Refusal {
                session,
                code: rejection.code,
                message: rejection.warning,
                status: rejection.status,
                culprit: rejection.culprit,
                client: client.map(|client| client.name.clone()),
                tenant: client.map(|client| client.tenant.clone()),
                call_id: request.headers.call_id().unwrap_or_default().to_owned(),
                at: wall,
            })));
    }

    fn on_invite(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        transaction: ServerTransactionId,
        request: &Request,
        client: Option<&Arc<ClientPolicy>>,
    ) {
        let Some(client) = client else {
            self.refuse(
                now,
                wall,
                transaction,
                None,
                request,
                None,
                &SessionError::ClientNotAllowed,
            );
            return;
        };
        if let Err(error) = self.start_session(now, wall, transaction, request, client) {
            self.refuse(now, wall, transaction, None, request, Some(client), &error);
        }
    }

    /// RFC 7866 §6.2, §7.2, §9.1 and DESIGN.md "Consent evidence": decide, allocate, answer.
    fn start_session(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        transaction: ServerTransactionId,
        request: &Request,
        client: &Arc<ClientPolicy>,
    ) -> Result<(), SessionError> {
        if self.sessions.len() >= self.config.max_sessions {
            return Err(SessionError::AtCapacity);
        }
        let body = read_body(request)?;
        // RFC 7866 §6.2: "the SRS MUST only consider the SIP session as an RS when both the
        // "+sip.src" feature tag and the "siprec" option tag are included"; anything else is
        // accepted only by the client's explicit policy (RFC 7866 §6.1.1).
        let kind = classify(&request_facts(request, body.has_metadata_part));
        match kind {
            SessionKind::Siprec => {}
            SessionKind::LegacyDialect(reason) if !client.accept_legacy => {
                return Err(SessionError::LegacyDialectRefused(reason));
            }
            SessionKind::NotRecordingSession if !client.accept_legacy => {
                return Err(SessionError::NotRecordingSession);
            }
            SessionKind::LegacyDialect(_) | SessionKind::NotRecordingSession => {}
        }
        let mut metadata = MetadataState::new();
        if let Some(document) = body.metadata {
            metadata
                .apply(wall, document)
                .map_err(SessionError::Metadata)?;
        }
        let offer = body.offer.ok_or(SessionError::MissingOffer)?;
        let opted_out = offer.record_preference() == Some(sdp::RecordPreference::Off);
        let sdp_session = SdpSession::new(self.random.next_u64() >> 1, self.config.media_address);

        let probe = probe_lines(&sdp_session, &offer)?;
        if probe.iter().all(Option::is_none) {
            return Err(SessionError::NoRecordableStream);
        }
        let probe_view = evaluate(client, metadata.current(), &probe, &[], opted_out, wall);
        gate(client, &probe_view, metadata.current(), wall).map_err(SessionError::Consent)?;

        let prepared = answer_offer(&sdp_session, &offer, &[], &mut self.allocator)?;
        let view = evaluate(
            client,
            metadata.current(),
            &prepared.lines,
            &[],
            opted_out,
            wall,
        );
        let mut headers = Headers::new()
            .with("Contact", self.contact.clone())
            .with("Content-Type", "application/sdp");
        if kind == SessionKind::Siprec {
            headers.push("Require", "siprec");
        }
        let dialog = match self.endpoint.respond(
            now,
            transaction,
            200,
            headers,
            prepared.answer.description.to_bytes(),
        ) {
            Ok(Some(dialog)) => dialog,
            // Cancelled or expired meanwhile: nothing was answered, nothing is kept.
            Ok(None) | Err(_) => {
                self.allocator.release(&prepared.new_ports);
                return Ok(());
            }
        };
        let id = self.new_recording_id(wall);
        let mut core = SessionCore {
            dialog,
            call_id: request.headers.call_id().unwrap_or_default().to_owned(),
            client: Arc::clone(client),
            siprec: kind == SessionKind::Siprec,
            metadata,
            sdp: prepared.sdp,
            answer: prepared.answer.description,
            lines: prepared.lines,
            had_senders: Vec::new(),
            opted_out,
            view,
            snapshot_requested: false,
        };
        core.remember_senders();
        self.events
            .push_back(SessionEvent::Started(Box::new(SessionStarted {
                session: id,
                call_id: core.call_id.clone(),
                tenant: client.tenant.clone(),
                client: client.name.clone(),
                started_at: wall,
                legacy: !core.siprec,
                streams: core.view.streams(),
                participants: core.view.participants.clone(),
                metadata: core.metadata.current().cloned(),
            })));
        self.by_dialog.insert(dialog, id);
        self.sessions
            .insert(id, Session::Answering(Answering { core }));
        Ok(())
    }

    fn new_recording_id(&mut self, wall: DateTime<Utc>) -> RecordingId {
        let mut random = [0u8; 10];
        loop {
            self.random.fill_bytes(&mut random);
            let millis = u64::try_from(wall.timestamp_millis()).unwrap_or_default();
            let id = RecordingId::from_parts(millis, random);
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    fn on_in_dialog(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        dialog: DialogId,
        transaction: ServerTransactionId,
        request: &Request,
    ) {
        let Some(id) = self.by_dialog.get(&dialog).copied() else {
            let _ = self
                .endpoint
                .respond(now, transaction, 481, Headers::new(), Vec::new());
            return;
        };
        match request.method {
            Method::Invite | Method::Update => {
                self.on_update(now, wall, id, transaction, request);
            }
            // INFO (e.g. a video refresh request, RFC 7866 §8.1.7.1) is acknowledged and ignored.
            _ => {
                let _ = self
                    .endpoint
                    .respond(now, transaction, 200, Headers::new(), Vec::new());
            }
        }
    }
}

mod update;
