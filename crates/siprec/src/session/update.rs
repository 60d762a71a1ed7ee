//! Requests inside a recording session: re-INVITE and UPDATE carrying a new offer and/or
//! metadata (RFC 7866 §7.1.2 and §9, RFC 3311, the RFC 8068 flows), and the snapshot
//! request the server sends (RFC 7866 §9.2).

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use model::RecordingId;
use sip::{Headers, Method, Request, ServerTransactionId};

use super::events::{SessionEvent, StreamActivity, StreamPlan};
use super::offer::{PreparedAnswer, answer_offer, read_body};
use super::view::{SessionView, evaluate};
use super::{ControlError, PortAllocator, RecordingServer, SNAPSHOT_REQUEST, SessionError};
use crate::{DataMode, MetadataState, SiprecError};

/// What an accepted in-dialog request changes, computed before anything is committed.
#[derive(Debug)]
struct Change {
    metadata: Option<MetadataState>,
    complete_snapshot: bool,
    /// RFC 7866 §9.1: a partial update before any complete snapshot; RFC 7866 §9.2 lets the
    /// server ask for one.
    needs_snapshot: bool,
    prepared: Option<PreparedAnswer>,
    opted_out: Option<bool>,
    reply_sdp: Option<Vec<u8>>,
}

impl<A: PortAllocator> RecordingServer<A> {
    pub(super) fn on_update(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        id: RecordingId,
        transaction: ServerTransactionId,
        request: &Request,
    ) {
        let change = {
            let Some(core) = self.sessions.get(&id).and_then(|session| {
                (!matches!(session, super::Session::Terminating(_))).then(|| session.core())
            }) else {
                // The session is ending: RFC 3261 §15.1.2 lets pending requests fail.
                let _ = self
                    .endpoint
                    .respond(now, transaction, 481, Headers::new(), Vec::new());
                return;
            };
            prepare(core, request, wall, &mut self.allocator)
        };
        let change = match change {
            Ok(change) => change,
            Err(error) => {
                let client = self
                    .sessions
                    .get(&id)
                    .map(|session| Arc::clone(&session.core().client));
                // RFC 3261 §14.2: a refused re-INVITE leaves the session as it was.
                self.refuse(
                    now,
                    wall,
                    transaction,
                    Some(id),
                    request,
                    client.as_deref(),
                    &error,
                );
                return;
            }
        };
        let mut headers = Headers::new().with("Contact", self.contact.clone());
        let body = match &change.reply_sdp {
            Some(bytes) => {
                headers.push("Content-Type", "application/sdp");
                bytes.clone()
            }
            None => Vec::new(),
        };
        if self
            .endpoint
            .respond(now, transaction, 200, headers, body)
            .is_err()
        {
            if let Some(prepared) = &change.prepared {
                self.allocator.release(&prepared.new_ports);
            }
            return;
        }
        let needs_snapshot = change.needs_snapshot;
        let request_snapshot = self.commit(id, change, wall);
        if needs_snapshot && request_snapshot {
            let _ = self.send_snapshot_request(now, id);
        }
    }

    /// Applies an answered change and reports it. Returns whether a snapshot request may be
    /// sent (none is outstanding).
    fn commit(&mut self, id: RecordingId, change: Change, wall: DateTime<Utc>) -> bool {
        let Some(core) = self
            .sessions
            .get_mut(&id)
            .and_then(super::Session::live_core_mut)
        else {
            return false;
        };
        let metadata_changed = change.metadata.is_some();
        if let Some(metadata) = change.metadata {
            core.metadata = metadata;
        }
        if change.complete_snapshot {
            core.snapshot_requested = false;
        }
        if let Some(prepared) = change.prepared {
            self.allocator.release(&prepared.released_ports);
            core.had_senders.resize(prepared.lines.len(), false);
            for (index, line) in prepared.lines.iter().enumerate() {
                let reused = core
                    .lines
                    .get(index)
                    .and_then(|old| old.as_ref())
                    .is_some_and(|old| {
                        line.as_ref()
                            .is_some_and(|new| new.local_port == old.local_port)
                    });
                if !reused && let Some(had) = core.had_senders.get_mut(index) {
                    *had = false;
                }
            }
            core.sdp = prepared.sdp;
            core.answer = prepared.answer.description;
            core.lines = prepared.lines;
        }
        if let Some(opted_out) = change.opted_out {
            core.opted_out = opted_out;
        }
        let view = evaluate(
            &core.client,
            core.metadata.current(),
            &core.lines,
            &core.had_senders,
            core.opted_out,
            wall,
        );
        let previous = std::mem::replace(&mut core.view, view);
        core.remember_senders();
        if metadata_changed && let Some(metadata) = core.metadata.current() {
            self.events.push_back(SessionEvent::MetadataUpdated {
                session: id,
                metadata: Box::new(metadata.clone()),
                participants: core.view.participants.clone(),
            });
        }
        report_stream_changes(&mut self.events, id, &previous, &core.view);
        !core.snapshot_requested
    }

    pub(super) fn send_snapshot_request(
        &mut self,
        now: Instant,
        id: RecordingId,
    ) -> Result<(), ControlError> {
        let session = self
            .sessions
            .get_mut(&id)
            .ok_or(ControlError::UnknownSession)?;
        let core = session.live_core_mut().ok_or(ControlError::SessionEnding)?;
        // RFC 7866 §9.2: disposition `recording-session`, type `application/rs-metadata`,
        // root `<requestsnapshot>`, and the UPDATE "MUST NOT contain an SDP body".
        let mut headers = Headers::new()
            .with("Content-Type", "application/rs-metadata")
            .with("Content-Disposition", "recording-session");
        if core.siprec {
            headers.push("Require", "siprec");
        }
        self.endpoint.send_request(
            now,
            core.dialog,
            Method::Update,
            headers,
            SNAPSHOT_REQUEST.as_bytes().to_vec(),
        )?;
        core.snapshot_requested = true;
        self.events
            .push_back(SessionEvent::SnapshotRequested { session: id });
        Ok(())
    }
}

/// Reads an in-dialog request against the session and prepares its answer (taking ports for
/// new lines); nothing of the session changes yet.
fn prepare(
    core: &super::SessionCore,
    request: &Request,
    wall: DateTime<Utc>,
    allocator: &mut dyn PortAllocator,
) -> Result<Change, SessionError> {
    let body = read_body(request)?;
    let mut change = Change {
        metadata: None,
        complete_snapshot: false,
        needs_snapshot: false,
        prepared: None,
        opted_out: None,
        reply_sdp: None,
    };
    if let Some(document) = body.metadata {
        let complete = document.data_mode == DataMode::Complete;
        let mut metadata = core.metadata.clone();
        match metadata.apply(wall, document) {
            Ok(_) => {
                change.metadata = Some(metadata);
                change.complete_snapshot = complete;
            }
            // RFC 7866 §9.1: partial updates only follow a complete snapshot; ask for one
            // (RFC 7866 §9.2) rather than fail the request.
            Err(SiprecError::PartialBeforeSnapshot) => change.needs_snapshot = true,
            Err(error) => return Err(SessionError::Metadata(error)),
        }
    }
    match body.offer {
        Some(offer) => {
            let prepared = answer_offer(&core.sdp, &offer, &core.lines, allocator)?;
            change.reply_sdp = Some(prepared.answer.description.to_bytes());
            change.opted_out = Some(offer.record_preference() == Some(sdp::RecordPreference::Off));
            change.prepared = Some(prepared);
        }
        // RFC 3261 §14.2: an offerless re-INVITE gets an offer in the 2xx; ours is the last
        // answer (recvonly), unchanged.
        None if request.method == Method::Invite => {
            change.reply_sdp = Some(core.answer.to_bytes());
        }
        None => {}
    }
    Ok(change)
}

fn without_activity(view: &SessionView) -> Vec<StreamPlan> {
    view.plans
        .iter()
        .flatten()
        .map(|plan| StreamPlan {
            activity: StreamActivity::Recording,
            ..plan.clone()
        })
        .collect()
}

/// StreamsChanged when anything but activity changed; then a pause or resume per stream
/// whose activity changed (a new stream counts as recording before).
fn report_stream_changes(
    events: &mut std::collections::VecDeque<SessionEvent>,
    session: RecordingId,
    previous: &SessionView,
    current: &SessionView,
) {
    if without_activity(previous) != without_activity(current) {
        events.push_back(SessionEvent::StreamsChanged {
            session,
            streams: current.streams(),
        });
    }
    for plan in current.plans.iter().flatten() {
        let before = previous
            .plans
            .get(plan.index)
            .and_then(Option::as_ref)
            .filter(|old| old.label == plan.label)
            .map_or(StreamActivity::Recording, |old| old.activity);
        if before == plan.activity {
            continue;
        }
        events.push_back(match plan.activity {
            StreamActivity::Paused(reason) => SessionEvent::StreamPaused {
                session,
                label: plan.label.clone(),
                reason,
            },
            StreamActivity::Recording => SessionEvent::StreamResumed {
                session,
                label: plan.label.clone(),
            },
        });
    }
}
