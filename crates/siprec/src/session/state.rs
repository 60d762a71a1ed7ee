//! One recording session: what every state holds ([`SessionCore`]) and the states themselves,
//! one struct each in one enum (STYLE.md §4); transitions consume `self`.

use std::sync::Arc;

use sdp::{SdpSession, SessionDescription};
use sip::DialogId;

use super::ClientPolicy;
use super::events::EndReason;
use super::view::{MediaLine, SessionView};
use crate::MetadataState;

/// What a session holds in every state.
#[derive(Debug)]
pub(super) struct SessionCore {
    pub dialog: DialogId,
    pub call_id: String,
    pub client: Arc<ClientPolicy>,
    /// An RFC 7866 session (`+sip.src` and `Require: siprec`), not a legacy dialect.
    pub siprec: bool,
    pub metadata: MetadataState,
    pub sdp: SdpSession,
    /// The last SDP answer sent (offered back to an offerless re-INVITE).
    pub answer: SessionDescription,
    /// The last offer's media lines, by position (`None` where rejected).
    pub lines: Vec<Option<MediaLine>>,
    /// Whether the metadata ever named a sender for the line (a line that had senders and
    /// has none is on hold).
    pub had_senders: Vec<bool>,
    /// Session-level `a=recordpref:off` in the last offer.
    pub opted_out: bool,
    pub view: SessionView,
    /// A snapshot request is outstanding (RFC 7866 §9.2); not repeated until it is answered.
    pub snapshot_requested: bool,
}

impl SessionCore {
    /// Every local RTP port the session holds.
    pub fn ports(&self) -> Vec<u16> {
        self.lines
            .iter()
            .flatten()
            .map(|line| line.local_port)
            .collect()
    }

    pub fn remember_senders(&mut self) {
        self.had_senders.resize(self.lines.len(), false);
        for plan in self.view.plans.iter().flatten() {
            if let Some(had) = self.had_senders.get_mut(plan.index) {
                *had |= !plan.senders.is_empty();
            }
        }
    }
}

/// 200 OK sent; waiting for the ACK (RFC 3261 §13.3.1.4).
#[derive(Debug)]
pub(super) struct Answering {
    pub core: SessionCore,
}

/// ACK received: the recording session is established.
#[derive(Debug)]
pub(super) struct Recording {
    pub core: SessionCore,
}

/// We asked for a BYE; it goes out once the ACK arrives (RFC 3261 §15) or at once.
#[derive(Debug)]
pub(super) struct Terminating {
    pub core: SessionCore,
    pub reason: EndReason,
}

/// Where a session stands, for the driver and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPhase {
    /// 200 OK sent, waiting for the ACK.
    Answering,
    /// Established.
    Recording,
    /// A BYE was asked for.
    Terminating,
}

#[derive(Debug)]
pub(super) enum Session {
    Answering(Answering),
    Recording(Recording),
    Terminating(Terminating),
}

impl Answering {
    pub fn acknowledged(self) -> Recording {
        Recording { core: self.core }
    }

    pub fn terminate(self, reason: EndReason) -> Terminating {
        Terminating {
            core: self.core,
            reason,
        }
    }
}

impl Recording {
    pub fn terminate(self, reason: EndReason) -> Terminating {
        Terminating {
            core: self.core,
            reason,
        }
    }
}

impl Session {
    pub fn core(&self) -> &SessionCore {
        match self {
            Session::Answering(state) => &state.core,
            Session::Recording(state) => &state.core,
            Session::Terminating(state) => &state.core,
        }
    }

    /// The core of a session that still takes updates (not terminating).
    pub fn live_core_mut(&mut self) -> Option<&mut SessionCore> {
        match self {
            Session::Answering(state) => Some(&mut state.core),
            Session::Recording(state) => Some(&mut state.core),
            Session::Terminating(_) => None,
        }
    }

    pub fn acknowledged(self) -> Session {
        match self {
            Session::Answering(state) => Session::Recording(state.acknowledged()),
            other => other,
        }
    }

    /// Moves to [`Terminating`]; a session already terminating keeps its first reason.
    pub fn terminate(self, reason: EndReason) -> Session {
        match self {
            Session::Answering(state) => Session::Terminating(state.terminate(reason)),
            Session::Recording(state) => Session::Terminating(state.terminate(reason)),
            Session::Terminating(state) => Session::Terminating(state),
        }
    }

    /// The reason the session ends with when its dialog ends: ours if we asked for the
    /// end, else the dialog's.
    pub fn end_reason(&self, dialog_reason: EndReason) -> EndReason {
        match self {
            Session::Terminating(state) => state.reason,
            _ => dialog_reason,
        }
    }

    pub fn phase(&self) -> SessionPhase {
        match self {
            Session::Answering(_) => SessionPhase::Answering,
            Session::Recording(_) => SessionPhase::Recording,
            Session::Terminating(_) => SessionPhase::Terminating,
        }
    }
}
