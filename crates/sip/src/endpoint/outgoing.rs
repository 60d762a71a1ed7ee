//! What the application sends: responses to the requests it was given (RFC 3261 §8.2.6,
//! §12.1.1, §13.3.1.4) and requests in a dialog (§12.2.1.1, §15.1.1), plus the endpoint's
//! own teardown of dialogs.

use std::time::Instant;

use super::{Endpoint, TimerTarget};
use crate::build::{RESPONSE_OWNED_HEADERS, response_to, sanitize_value};
use crate::dialog::{DeferredBye, Dialog};
use crate::error::Error;
use crate::event::{ClientTransactionId, DialogEndReason, DialogId, Event, ServerTransactionId};
use crate::message::{Headers, Method, reason_phrase};
use crate::transaction::ClientTransaction;

impl Endpoint {
    /// Answers a request the application was given in [`Event::IncomingInvite`] or
    /// [`Event::InDialogRequest`]. `headers` are added to the response (the builder owns
    /// Via, From, To, Call-ID, CSeq and Content-Length); a non-empty `body` needs a
    /// Content-Type among them. A 2xx to an initial INVITE creates the dialog and returns
    /// its id; the 2xx is then retransmitted until the ACK arrives.
    pub fn respond(
        &mut self,
        now: Instant,
        transaction: ServerTransactionId,
        status: u16,
        headers: Headers,
        body: Vec<u8>,
    ) -> Result<Option<DialogId>, Error> {
        if !(100..=699).contains(&status) {
            return Err(Error::InvalidStatus(status));
        }
        // RFC 3261 §7.4.1: "If the body is not empty, the Content-Type header field MUST be
        // present."
        if !body.is_empty() && !headers.contains("Content-Type") {
            return Err(Error::BodyWithoutContentType);
        }
        let config = &self.config;
        let server = self
            .server_transactions
            .get(&transaction)
            .ok_or(Error::UnknownTransaction)?;
        if !server.awaiting_application || server.final_sent() {
            return Err(Error::FinalResponseAlreadySent);
        }
        let is_invite = server.is_invite();
        let initial = server.dialog.is_none();
        let method = server.request.method.clone();
        let success = (200..300).contains(&status);
        let is_final = status >= 200;
        let mut response = response_to(
            &server.request,
            status,
            reason_phrase(status),
            Some(&server.to_tag),
        );
        // RFC 3261 §12.1.1: "the UAS MUST copy all Record-Route header field values from
        // the request into the response" when the response establishes a dialog.
        if is_invite && initial && status > 100 && status < 300 {
            for record_route in server.request.headers.all("Record-Route") {
                response.headers.push("Record-Route", record_route);
            }
        }
        // RFC 3261 §12.1.1: the UAS MUST add a Contact to a dialog-establishing response;
        // RFC 3311 §5.2: the 2xx to UPDATE (a target refresh) carries one too.
        let wants_contact =
            (is_invite && status > 100 && status < 300) || (method == Method::Update && success);
        if wants_contact && !headers.contains("Contact") {
            response
                .headers
                .push("Contact", sanitize_value(&config.contact));
        }
        // RFC 3261 §13.3.1.4: the 2xx to an INVITE SHOULD contain Allow and Supported.
        if is_invite && success {
            if !headers.contains("Allow") {
                response.headers.push("Allow", Self::allow_value());
            }
            if !headers.contains("Supported") {
                response
                    .headers
                    .push("Supported", config.supported.join(", "));
            }
        }
        for header in &headers {
            if RESPONSE_OWNED_HEADERS.iter().any(|owned| header.is(owned)) {
                continue;
            }
            response.headers.push(
                sanitize_value(header.name()),
                sanitize_value(header.value()),
            );
        }
        self.add_server_header(&mut response.headers);
        response.body = body;
        let bytes = response.to_bytes();

        let dialog = match (
            is_invite && success && initial,
            self.server_transactions.get(&transaction),
        ) {
            (true, Some(server)) => {
                let id = DialogId(self.next_id + 1);
                let dialog = Dialog::from_invite(
                    id,
                    &server.request,
                    &server.to_tag,
                    server.transport,
                    server.reply_to,
                )
                .ok_or(Error::UnknownTransaction)?;
                self.next_id += 1;
                self.dialog_keys.insert(dialog.key.clone(), id);
                self.dialogs.insert(id, dialog);
                Some(id)
            }
            (_, Some(server)) => server.dialog,
            (_, None) => return Err(Error::UnknownTransaction),
        };
        let timers = self.config.timers;
        let Some(server) = self.server_transactions.get_mut(&transaction) else {
            return Err(Error::UnknownTransaction);
        };
        server.dialog = dialog;
        let (destination, transport) = (server.reply_to, server.transport);
        let sequence = server
            .request
            .headers
            .cseq()
            .map(|cseq| cseq.sequence)
            .unwrap_or_default();
        let finished = if is_final {
            server.send_final(now, bytes.clone(), status, &timers)
        } else {
            server.send_provisional(bytes.clone());
            false
        };
        if let Some(dialog_id) = dialog {
            if let Some(dialog_state) = self.dialogs.get_mut(&dialog_id) {
                if is_invite && success {
                    // RFC 3261 §13.3.1.4: the UAS core retransmits the 2xx until the ACK.
                    dialog_state.start_2xx_retransmission(
                        now,
                        sequence,
                        bytes.clone(),
                        destination,
                        &timers,
                    );
                }
                if success
                    && !initial
                    && (is_invite || method == Method::Update)
                    && let Some(server) = self.server_transactions.get(&transaction)
                {
                    dialog_state.refresh_target(&server.request);
                }
            }
            if is_final {
                self.forget_pending(transaction, Some(dialog_id));
            }
            self.schedule_dialog(dialog_id);
        }
        self.transmit(destination, transport, bytes);
        if finished {
            self.remove_server_transaction(transaction);
        } else {
            self.schedule_server(transaction);
        }
        Ok(if initial && is_invite && success {
            dialog
        } else {
            None
        })
    }

    /// Sends BYE, UPDATE or INFO (any method but INVITE, ACK and CANCEL) in a dialog. Its
    /// responses come back as [`Event::ResponseReceived`]. A BYE ends the dialog at once
    /// (RFC 3261 §15.1.1); one asked for before the ACK of our 2xx waits for that ACK
    /// (§15).
    pub fn send_request(
        &mut self,
        now: Instant,
        dialog: DialogId,
        method: Method,
        headers: Headers,
        body: Vec<u8>,
    ) -> Result<ClientTransactionId, Error> {
        if matches!(method, Method::Invite | Method::Ack | Method::Cancel) {
            return Err(Error::UnsupportedMethod(method));
        }
        if !body.is_empty() && !headers.contains("Content-Type") {
            return Err(Error::BodyWithoutContentType);
        }
        if !self.dialogs.contains_key(&dialog) {
            return Err(Error::UnknownDialog);
        }
        let id = ClientTransactionId(self.next_id());
        if method == Method::Bye
            && let Some(state) = self.dialogs.get_mut(&dialog)
            && state.pending_ack.is_some()
        {
            state.deferred_bye = Some(DeferredBye {
                transaction: id,
                headers,
                body,
            });
            return Ok(id);
        }
        self.start_client_transaction(now, dialog, id, method.clone(), &headers, body, true);
        if method == Method::Bye {
            self.end_dialog(now, dialog, DialogEndReason::LocalBye);
        }
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    fn start_client_transaction(
        &mut self,
        now: Instant,
        dialog_id: DialogId,
        id: ClientTransactionId,
        method: Method,
        headers: &Headers,
        body: Vec<u8>,
        report: bool,
    ) {
        let branch = self.new_branch();
        let timers = self.config.timers;
        let contact = self.config.contact.clone();
        let user_agent = self.config.user_agent.clone();
        let sent_by = self.config.via_sent_by.clone();
        let Some(dialog) = self.dialogs.get_mut(&dialog_id) else {
            return;
        };
        let transport = dialog.transport;
        // RFC 3261 §8.1.1.7 and RFC 3581 §3: our Via asks for rport.
        let via = format!(
            "SIP/2.0/{} {sent_by};branch={branch};rport",
            transport.via_token()
        );
        let request =
            dialog.build_request(&method, via, &contact, user_agent.as_deref(), headers, body);
        let destination = dialog.next_hop(&request);
        let bytes = request.to_bytes();
        let transaction = ClientTransaction::new(
            now,
            branch.clone(),
            method.clone(),
            dialog_id,
            report,
            destination,
            transport,
            bytes.clone(),
            &timers,
        );
        let deadline = transaction.next_deadline();
        self.client_keys
            .insert((branch, method.as_str().to_owned()), id);
        self.client_transactions.insert(id, transaction);
        self.transmit(destination, transport, bytes);
        self.schedule(deadline, TimerTarget::Client(id));
    }

    /// Sends the BYE that closes a dialog (the application's deferred one if any) and ends
    /// the dialog.
    pub(super) fn send_bye_and_end(
        &mut self,
        now: Instant,
        dialog_id: DialogId,
        reason: DialogEndReason,
    ) {
        let deferred = self
            .dialogs
            .get_mut(&dialog_id)
            .and_then(|dialog| dialog.deferred_bye.take());
        match deferred {
            Some(deferred) => {
                self.send_deferred_bye(now, dialog_id, deferred, DialogEndReason::LocalBye)
            }
            None => {
                let id = ClientTransactionId(self.next_id());
                self.start_client_transaction(
                    now,
                    dialog_id,
                    id,
                    Method::Bye,
                    &Headers::new(),
                    Vec::new(),
                    false,
                );
                self.end_dialog(now, dialog_id, reason);
            }
        }
    }

    pub(super) fn send_deferred_bye(
        &mut self,
        now: Instant,
        dialog_id: DialogId,
        deferred: DeferredBye,
        reason: DialogEndReason,
    ) {
        self.start_client_transaction(
            now,
            dialog_id,
            deferred.transaction,
            Method::Bye,
            &deferred.headers,
            deferred.body,
            true,
        );
        self.end_dialog(now, dialog_id, reason);
    }

    /// Removes a dialog; its unanswered requests get 487 (RFC 3261 §15.1.2: "It is
    /// RECOMMENDED that a 487 (Request Terminated) response be generated to those pending
    /// requests").
    pub(super) fn end_dialog(
        &mut self,
        now: Instant,
        dialog_id: DialogId,
        reason: DialogEndReason,
    ) {
        let Some(dialog) = self.dialogs.remove(&dialog_id) else {
            return;
        };
        self.dialog_keys.remove(&dialog.key);
        for transaction in dialog.pending_requests {
            let awaiting = self
                .server_transactions
                .get(&transaction)
                .is_some_and(|server| server.awaiting_application && !server.final_sent());
            if awaiting {
                self.send_final_automatically(now, transaction, 487, None, Headers::new());
                self.events.push_back(Event::Cancelled {
                    transaction,
                    dialog: Some(dialog_id),
                });
            }
        }
        self.events.push_back(Event::DialogEnded {
            dialog: dialog_id,
            reason,
        });
    }

    /// The application no longer owes an answer to `transaction`.
    pub(super) fn forget_pending(
        &mut self,
        transaction: ServerTransactionId,
        dialog: Option<DialogId>,
    ) {
        let Some(dialog) = dialog.and_then(|id| self.dialogs.get_mut(&id)) else {
            return;
        };
        dialog
            .pending_requests
            .retain(|pending| *pending != transaction);
        if dialog.pending_invite == Some(transaction) {
            dialog.pending_invite = None;
        }
    }

    /// The application let `answer_timeout` pass without a final response: we answer 500.
    pub(super) fn answer_overdue(
        &mut self,
        now: Instant,
        transaction: ServerTransactionId,
        dialog: Option<DialogId>,
    ) {
        self.send_final_automatically(now, transaction, 500, None, Headers::new());
        self.forget_pending(transaction, dialog);
        self.events.push_back(Event::RequestExpired {
            transaction,
            dialog,
        });
    }
}
