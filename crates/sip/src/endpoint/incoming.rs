//! Requests and responses arriving from the network: RFC 3261 §8.2 (UAS behaviour),
//! §17.2.3 (transaction matching), §12.2.2 (requests in a dialog), §9.2 (CANCEL), §11.2
//! (OPTIONS), §18.2.1 (received/rport).

use std::net::SocketAddr;
use std::time::Instant;

use rand::RngCore;

use super::{ALLOWED_METHODS, Endpoint, TimerTarget};
use crate::dialog::DialogKey;
use crate::event::{DialogEndReason, DialogId, Event, ServerTransactionId, Transport};
use crate::headers::{HeaderError, SipUri, Via, host_ip};
use crate::message::{Headers, Method, Request, Response, split_list};
use crate::transaction::{AckOutcome, ServerTransaction, TransactionKey};

/// RFC 3261 §18.2.1 and RFC 3581 §4: note where the request really came from in its top
/// Via, and return where responses go (§18.2.2).
pub(crate) fn stamp_via(
    request: &mut Request,
    top_via: &mut Via,
    from: SocketAddr,
    transport: Transport,
) -> SocketAddr {
    let source = from.ip();
    let rport_requested = top_via.rport().is_some();
    let mut changed = false;
    // RFC 3261 §18.2.1: "If the host portion of the "sent-by" parameter contains a domain
    // name, or if it contains an IP address that differs from the packet source address,
    // the server MUST add a "received" parameter". RFC 3581 §4: with rport it MUST add
    // received even when they are equal, and MUST set rport to the source port.
    if host_ip(&top_via.host) != Some(source) || rport_requested {
        top_via.params.set("received", Some(source.to_string()));
        changed = true;
    }
    if rport_requested {
        top_via.params.set("rport", Some(from.port().to_string()));
        changed = true;
    }
    if changed && let Some(first) = request.headers.first_mut("Via") {
        let mut values: Vec<String> = split_list(first.value())
            .into_iter()
            .map(str::to_owned)
            .collect();
        if let Some(top) = values.first_mut() {
            *top = top_via.to_string();
        }
        *first.value_mut() = values.join(", ");
    }
    // RFC 3261 §18.2.2: over a reliable transport the response goes back on the same
    // connection; over UDP to the received address and the rport (RFC 3581 §4) or the
    // sent-by port (default 5060).
    if transport.is_reliable() {
        return from;
    }
    let port = if rport_requested {
        from.port()
    } else {
        top_via.port.unwrap_or(5060)
    };
    SocketAddr::new(source, port)
}

/// RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Max-Forwards and Via are mandatory; we insist
/// on those we need to answer (Max-Forwards is tolerated when missing). The CSeq method
/// MUST match the request method (§8.1.1.5).
fn check_mandatory(request: &Request) -> Result<(), HeaderError> {
    request.headers.call_id()?;
    request.headers.from()?;
    request.headers.to()?;
    let cseq = request.headers.cseq()?;
    if cseq.method != request.method {
        return Err(HeaderError::Malformed { name: "CSeq" });
    }
    Ok(())
}

fn capitalized(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// A request that got this far: parsed, stamped and not a retransmission.
pub(super) struct Incoming {
    pub key: TransactionKey,
    pub request: Request,
    pub reply_to: SocketAddr,
    pub transport: Transport,
    /// The address the request came from (a connection's remote address for TCP/TLS).
    pub source: SocketAddr,
}

impl Endpoint {
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        mut request: Request,
    ) {
        // Without a readable top Via there is nowhere to send an answer.
        let Ok(mut top_via) = request.headers.top_via() else {
            return;
        };
        let key = TransactionKey::for_server(&request.method, &top_via, &request.headers);
        let reply_to = stamp_via(&mut request, &mut top_via, from, transport);
        let incoming = Incoming {
            key,
            request,
            reply_to,
            transport,
            source: from,
        };
        if incoming.request.method == Method::Ack {
            self.handle_ack(now, incoming);
            return;
        }
        // RFC 3261 §17.2.3: a request matching a server transaction is a retransmission.
        if let Some(id) = self.server_keys.get(&incoming.key) {
            if let Some(transaction) = self.server_transactions.get(id)
                && let Some(bytes) = transaction.on_retransmission()
            {
                let (destination, transport) = (transaction.reply_to, transaction.transport);
                self.transmit(destination, transport, bytes);
            }
            return;
        }
        if let Err(error) = check_mandatory(&incoming.request) {
            // RFC 3261 §21.4.1: the reason phrase SHOULD identify the syntax problem.
            let reason = capitalized(&error.to_string());
            self.answer_automatically(now, incoming, 400, Some(&reason), Headers::new(), None);
            return;
        }
        if self.server_transactions.len() >= self.config.max_server_transactions {
            self.answer_statelessly(&incoming, 503, Headers::new().with("Retry-After", "5"));
            return;
        }
        // RFC 3261 §8.2.1: an unknown method gets 501; a known one we do not support gets
        // 405 with an Allow header field.
        if let Method::Other(_) = incoming.request.method {
            self.answer_automatically(now, incoming, 501, None, Headers::new(), None);
            return;
        }
        if !ALLOWED_METHODS.contains(&incoming.request.method) {
            let allow = Headers::new().with("Allow", Self::allow_value());
            self.answer_automatically(now, incoming, 405, None, allow, None);
            return;
        }
        // RFC 3261 §8.2.2.1: a Request-URI scheme we do not support SHOULD get 416.
        let scheme_supported = SipUri::parse(&incoming.request.uri)
            .is_some_and(|uri| uri.scheme == "sip" || uri.scheme == "sips");
        if !scheme_supported {
            self.answer_automatically(now, incoming, 416, None, Headers::new(), None);
            return;
        }
        if incoming.request.method == Method::Cancel {
            self.handle_cancel(now, incoming, &top_via);
            return;
        }
        // RFC 3261 §8.2.2.3: option tags in Require that we do not understand MUST get a
        // 420 listing them in Unsupported.
        let unsupported: Vec<String> = incoming
            .request
            .headers
            .require()
            .into_iter()
            .filter(|tag| {
                !self
                    .config
                    .supported
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(tag))
            })
            .map(str::to_owned)
            .collect();
        if !unsupported.is_empty() {
            let headers = Headers::new().with("Unsupported", unsupported.join(", "));
            self.answer_automatically(now, incoming, 420, None, headers, None);
            return;
        }
        let has_to_tag = incoming
            .request
            .headers
            .to()
            .is_ok_and(|to| to.tag().is_some());
        if has_to_tag {
            self.handle_in_dialog(now, incoming);
        } else {
            self.handle_out_of_dialog(now, incoming);
        }
    }

    fn handle_out_of_dialog(&mut self, now: Instant, incoming: Incoming) {
        match incoming.request.method {
            Method::Invite => {
                // RFC 3261 §8.1.1.8: the Contact MUST be present and hold exactly one SIP or
                // SIPS URI in a request that can establish a dialog.
                let contact_ok = incoming.request.headers.contacts().is_ok_and(|contacts| {
                    contacts.len() == 1
                        && SipUri::parse(contacts[0].uri())
                            .is_some_and(|uri| uri.scheme == "sip" || uri.scheme == "sips")
                });
                if !contact_ok {
                    let reason = "Missing or invalid Contact header field";
                    self.answer_automatically(
                        now,
                        incoming,
                        400,
                        Some(reason),
                        Headers::new(),
                        None,
                    );
                    return;
                }
                if self.dialogs.len() >= self.config.max_dialogs {
                    let headers = Headers::new().with("Retry-After", "5");
                    self.answer_automatically(now, incoming, 503, None, headers, None);
                    return;
                }
                let (source, transport) = (incoming.source, incoming.transport);
                let transaction = self.open_for_application(now, incoming, None);
                if let Some(request) = self.request_of(transaction) {
                    self.events.push_back(Event::IncomingInvite {
                        transaction,
                        request,
                        source,
                        transport,
                    });
                }
            }
            // RFC 3261 §11.2: OPTIONS outside a dialog is answered as an INVITE would be.
            Method::Options => self.answer_options(now, incoming),
            // RFC 3261 §15.1.2 / §12.2.2: a BYE (or any in-dialog method) that matches no
            // dialog gets 481.
            _ => self.answer_automatically(now, incoming, 481, None, Headers::new(), None),
        }
    }

    fn handle_in_dialog(&mut self, now: Instant, incoming: Incoming) {
        let Some(dialog_id) = self.find_dialog(&incoming.request) else {
            // RFC 3261 §12.2.2: a request with a To tag that matches no dialog gets 481.
            self.answer_automatically(now, incoming, 481, None, Headers::new(), None);
            return;
        };
        let sequence = incoming
            .request
            .headers
            .cseq()
            .map(|cseq| cseq.sequence)
            .unwrap_or_default();
        let Some(dialog) = self.dialogs.get_mut(&dialog_id) else {
            return;
        };
        // RFC 3261 §12.2.2: "If the remote sequence number was not empty, but the sequence
        // number of the request is lower than the remote sequence number, the request is
        // out of order and MUST be rejected with a 500 (Server Internal Error) response."
        if sequence < dialog.remote_sequence {
            let reason = "Server Internal Error - CSeq out of order";
            self.answer_automatically(
                now,
                incoming,
                500,
                Some(reason),
                Headers::new(),
                Some(dialog_id),
            );
            return;
        }
        dialog.remote_sequence = sequence;
        match incoming.request.method {
            Method::Bye => {
                // RFC 3261 §15.1.2: the UAS MUST generate a 2xx to a BYE for a dialog.
                self.answer_automatically(
                    now,
                    incoming,
                    200,
                    None,
                    Headers::new(),
                    Some(dialog_id),
                );
                self.end_dialog(now, dialog_id, DialogEndReason::RemoteBye);
            }
            Method::Options => self.answer_options(now, incoming),
            Method::Invite if dialog.pending_invite.is_some() => {
                // RFC 3261 §14.2: a second INVITE before the final response to the first
                // MUST get a 500 with a Retry-After between 0 and 10 seconds.
                let retry_after = (self.random.next_u32() % 11).to_string();
                let headers = Headers::new().with("Retry-After", retry_after);
                self.answer_automatically(now, incoming, 500, None, headers, Some(dialog_id));
            }
            Method::Invite | Method::Update | Method::Info => {
                let is_invite = incoming.request.method == Method::Invite;
                let transaction = self.open_for_application(now, incoming, Some(dialog_id));
                if let Some(dialog) = self.dialogs.get_mut(&dialog_id) {
                    dialog.pending_requests.push(transaction);
                    if is_invite {
                        dialog.pending_invite = Some(transaction);
                    }
                }
                if let Some(request) = self.request_of(transaction) {
                    self.events.push_back(Event::InDialogRequest {
                        dialog: dialog_id,
                        transaction,
                        request,
                    });
                }
            }
            _ => {
                let allow = Headers::new().with("Allow", Self::allow_value());
                self.answer_automatically(now, incoming, 405, None, allow, Some(dialog_id));
            }
        }
    }

    /// RFC 3261 §12.2.2: dialogs are matched on Call-ID, To tag (ours) and From tag.
    fn find_dialog(&self, request: &Request) -> Option<DialogId> {
        let key = DialogKey {
            call_id: request.headers.call_id().ok()?.to_owned(),
            local_tag: request.headers.to().ok()?.tag()?.to_owned(),
            remote_tag: request
                .headers
                .from()
                .ok()?
                .tag()
                .unwrap_or_default()
                .to_owned(),
        };
        self.dialog_keys.get(&key).copied()
    }

    fn handle_ack(&mut self, now: Instant, incoming: Incoming) {
        // RFC 3261 §17.2.3: the ACK for a non-2xx final matches the INVITE transaction.
        if let Some(&id) = self.server_keys.get(&incoming.key) {
            let timers = self.config.timers;
            let outcome = match self.server_transactions.get_mut(&id) {
                Some(transaction) => transaction.on_ack(now, &timers),
                None => AckOutcome::Absorbed,
            };
            match outcome {
                AckOutcome::Terminated => {
                    self.remove_server_transaction(id);
                    return;
                }
                AckOutcome::Absorbed => {
                    self.schedule_server(id);
                    return;
                }
                AckOutcome::ForDialog => {}
            }
        }
        // The ACK for a 2xx is its own transaction and goes to the dialog (§13.3.1.4). An
        // ACK that matches nothing is dropped: it cannot be answered.
        let Some(dialog_id) = self.find_dialog(&incoming.request) else {
            return;
        };
        let sequence = incoming
            .request
            .headers
            .cseq()
            .map(|cseq| cseq.sequence)
            .unwrap_or_default();
        let Some(dialog) = self.dialogs.get_mut(&dialog_id) else {
            return;
        };
        if !dialog.on_ack(sequence) {
            return;
        }
        let deferred = dialog.deferred_bye.take();
        self.events.push_back(Event::AckReceived {
            dialog: dialog_id,
            request: incoming.request,
        });
        if let Some(deferred) = deferred {
            self.send_deferred_bye(now, dialog_id, deferred, DialogEndReason::LocalBye);
        }
    }

    /// RFC 3261 §9.2: CANCEL matches the INVITE transaction with the same branch; it gets a
    /// 200 and the INVITE, if still unanswered, a 487.
    fn handle_cancel(&mut self, now: Instant, incoming: Incoming, top_via: &Via) {
        let invite_key =
            TransactionKey::for_server(&Method::Invite, top_via, &incoming.request.headers);
        let Some(&invite_id) = self.server_keys.get(&invite_key) else {
            // RFC 3261 §9.2: no matching transaction: 481.
            self.answer_automatically(now, incoming, 481, None, Headers::new(), None);
            return;
        };
        let Some(invite) = self.server_transactions.get(&invite_id) else {
            return;
        };
        // RFC 3261 §9.2: the To tag of the 200 to CANCEL SHOULD equal that of the INVITE's
        // responses.
        let to_tag = invite.to_tag.clone();
        let dialog = invite.dialog;
        let unanswered = invite.is_invite() && !invite.final_sent();
        let cancel_id = self.open_transaction(incoming, None, Some(to_tag));
        self.send_final_automatically(now, cancel_id, 200, None, Headers::new());
        if unanswered {
            // RFC 3261 §9.2: "the UAS SHOULD then respond to the INVITE with a 487".
            self.send_final_automatically(now, invite_id, 487, None, Headers::new());
            self.forget_pending(invite_id, dialog);
            self.events.push_back(Event::Cancelled {
                transaction: invite_id,
                dialog,
            });
        }
    }

    fn answer_options(&mut self, now: Instant, incoming: Incoming) {
        // RFC 3261 §11.2: Allow, Accept and Supported SHOULD be in the answer.
        let headers = Headers::new()
            .with("Allow", Self::allow_value())
            .with("Accept", self.config.accept.join(", "))
            .with("Supported", self.config.supported.join(", "));
        self.answer_automatically(now, incoming, 200, None, headers, None);
    }

    /// Opens a server transaction whose final response the application owes.
    fn open_for_application(
        &mut self,
        now: Instant,
        incoming: Incoming,
        dialog: Option<DialogId>,
    ) -> ServerTransactionId {
        let id = self.open_transaction(incoming, dialog, None);
        let answer_deadline = now + self.config.answer_timeout;
        let send_trying = self.config.send_trying;
        if let Some(transaction) = self.server_transactions.get_mut(&id) {
            transaction.awaiting_application = true;
            transaction.answer_deadline = Some(answer_deadline);
            // RFC 3261 §17.2.1: the INVITE server transaction MUST send a 100 (Trying)
            // unless the TU answers within 200 ms; we cannot know, so we send it.
            if transaction.is_invite() && send_trying {
                let trying = crate::build::response_to(&transaction.request, 100, "Trying", None);
                let bytes = trying.to_bytes();
                transaction.send_provisional(bytes.clone());
                let (destination, transport) = (transaction.reply_to, transaction.transport);
                self.transmit(destination, transport, bytes);
            }
        }
        self.schedule(Some(answer_deadline), TimerTarget::Server(id));
        id
    }

    fn open_transaction(
        &mut self,
        incoming: Incoming,
        dialog: Option<DialogId>,
        to_tag: Option<String>,
    ) -> ServerTransactionId {
        let id = ServerTransactionId(self.next_id());
        let to_tag = match to_tag {
            Some(tag) => tag,
            None => self.new_tag(),
        };
        let mut transaction = ServerTransaction::new(
            incoming.key.clone(),
            incoming.request,
            incoming.reply_to,
            incoming.transport,
            to_tag,
        );
        transaction.dialog = dialog;
        self.server_keys.insert(incoming.key, id);
        self.server_transactions.insert(id, transaction);
        id
    }

    /// Answers a request ourselves with a final response, keeping a transaction so that
    /// retransmissions of the request are absorbed.
    pub(super) fn answer_automatically(
        &mut self,
        now: Instant,
        incoming: Incoming,
        status: u16,
        reason: Option<&str>,
        headers: Headers,
        dialog: Option<DialogId>,
    ) {
        let id = self.open_transaction(incoming, dialog, None);
        self.send_final_automatically(now, id, status, reason, headers);
    }

    /// Sends a final response the endpoint decided on in transaction `id`.
    pub(super) fn send_final_automatically(
        &mut self,
        now: Instant,
        id: ServerTransactionId,
        status: u16,
        reason: Option<&str>,
        extra: Headers,
    ) {
        let timers = self.config.timers;
        let Some(transaction) = self.server_transactions.get(&id) else {
            return;
        };
        let reason = reason.unwrap_or(crate::reason_phrase(status));
        let mut response: Response = crate::build::response_to(
            &transaction.request,
            status,
            reason,
            Some(&transaction.to_tag),
        );
        for header in &extra {
            response.headers.push(header.name(), header.value());
        }
        self.add_server_header(&mut response.headers);
        let bytes = response.to_bytes();
        let Some(transaction) = self.server_transactions.get_mut(&id) else {
            return;
        };
        let (destination, transport) = (transaction.reply_to, transaction.transport);
        let finished = transaction.send_final(now, bytes.clone(), status, &timers);
        self.transmit(destination, transport, bytes);
        if finished {
            self.remove_server_transaction(id);
        } else {
            self.schedule_server(id);
        }
    }

    /// A response without any transaction state (overload).
    fn answer_statelessly(&mut self, incoming: &Incoming, status: u16, extra: Headers) {
        let tag = self.new_tag();
        let mut response = crate::build::response_to(
            &incoming.request,
            status,
            crate::reason_phrase(status),
            Some(&tag),
        );
        for header in &extra {
            response.headers.push(header.name(), header.value());
        }
        self.add_server_header(&mut response.headers);
        self.transmit(incoming.reply_to, incoming.transport, response.to_bytes());
    }

    fn request_of(&self, id: ServerTransactionId) -> Option<Request> {
        self.server_transactions
            .get(&id)
            .map(|transaction| transaction.request.clone())
    }

    /// RFC 3261 §17.1.3: a response matches the client transaction with the branch of its
    /// top Via and the method of its CSeq; anything else is dropped (§18.1.2).
    pub(super) fn handle_response(&mut self, now: Instant, response: Response) {
        let Ok(top_via) = response.headers.top_via() else {
            return;
        };
        let (Some(branch), Ok(cseq)) = (top_via.branch(), response.headers.cseq()) else {
            return;
        };
        let key = (branch.to_owned(), cseq.method.as_str().to_owned());
        let Some(&id) = self.client_keys.get(&key) else {
            return;
        };
        let timers = self.config.timers;
        let Some(transaction) = self.client_transactions.get_mut(&id) else {
            return;
        };
        let (deliver, finished) = transaction.on_response(now, response.status, &timers);
        let (dialog, report, method) = (
            transaction.dialog,
            transaction.report,
            transaction.method.clone(),
        );
        let status = response.status;
        if deliver && report {
            self.events.push_back(Event::ResponseReceived {
                transaction: id,
                dialog,
                response,
            });
        }
        // RFC 3261 §12.2.1.2: a 481 or 408 to a request in a dialog SHOULD end the dialog.
        if deliver && method != Method::Bye && (status == 481 || status == 408) {
            self.end_dialog(
                now,
                dialog,
                DialogEndReason::RequestFailed {
                    status: Some(status),
                },
            );
        }
        if finished {
            self.remove_client_transaction(id);
        } else {
            let deadline = self
                .client_transactions
                .get(&id)
                .and_then(|transaction| transaction.next_deadline());
            self.schedule(deadline, TimerTarget::Client(id));
        }
    }
}
