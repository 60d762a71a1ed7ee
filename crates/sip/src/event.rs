//! What the endpoint hands to its caller: transmits for the driver and events for the
//! application, and the opaque handles those refer to.

use std::fmt;
use std::net::SocketAddr;

use crate::message::{Request, Response};
use crate::parse::ParseError;

/// A transport protocol. RFC 3261 §17.1.1.1 and §18: timers and framing depend on whether
/// it is reliable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Reliable transports deliver in order without loss: no retransmission timers, and
    /// messages are framed by Content-Length (RFC 3261 §18.3).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The token in a Via header (RFC 3261 §20.42).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// Bytes to send. For reliable transports `destination` names the connection (the remote
/// address of the connection the request came on, or a new one to open).
#[derive(Clone, PartialEq, Eq)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub transport: Transport,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmit")
            .field("transport", &self.transport)
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// A server transaction: a request we received and must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTransactionId(pub(crate) u64);

/// A client transaction: a request we sent in a dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTransactionId(pub(crate) u64);

/// A dialog (RFC 3261 §12), created by our 2xx to an INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId(pub(crate) u64);

/// Why a dialog ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogEndReason {
    /// The peer sent BYE.
    RemoteBye,
    /// We sent BYE (the application asked for it).
    LocalBye,
    /// RFC 3261 §13.3.1.4: no ACK for our 2xx within 64*T1; we sent BYE.
    AckTimeout,
    /// RFC 3261 §12.2.1.2: a request we sent in the dialog got a 481 or 408, or no answer.
    RequestFailed { status: Option<u16> },
}

/// Something the application decides on or needs to know.
#[derive(Debug)]
pub enum Event {
    /// A new INVITE outside any dialog. Answer with [`crate::Endpoint::respond`]; a 2xx
    /// creates the dialog.
    IncomingInvite {
        transaction: ServerTransactionId,
        request: Request,
        /// Where it came from (for allow-listing recording clients); for TCP/TLS the
        /// connection's remote address, which the driver maps to a TLS identity.
        source: SocketAddr,
        transport: Transport,
    },
    /// A re-INVITE, UPDATE or INFO in a dialog. Answer with [`crate::Endpoint::respond`].
    InDialogRequest {
        dialog: DialogId,
        transaction: ServerTransactionId,
        request: Request,
    },
    /// The ACK for our 2xx to an INVITE (it may carry an SDP answer).
    AckReceived { dialog: DialogId, request: Request },
    /// The INVITE was cancelled (RFC 3261 §9.2): we answered 200 to the CANCEL and 487 to
    /// the INVITE. The application must forget the transaction.
    Cancelled {
        transaction: ServerTransactionId,
        dialog: Option<DialogId>,
    },
    /// The application did not answer in time; we answered 500 ourselves.
    RequestExpired {
        transaction: ServerTransactionId,
        dialog: Option<DialogId>,
    },
    /// The dialog is over; requests for it are now answered 481.
    DialogEnded {
        dialog: DialogId,
        reason: DialogEndReason,
    },
    /// A response to a request sent with [`crate::Endpoint::send_request`].
    ResponseReceived {
        transaction: ClientTransactionId,
        dialog: DialogId,
        response: Response,
    },
    /// RFC 3261 §17.1.2.2 Timer F: no final response to a request we sent.
    RequestTimedOut {
        transaction: ClientTransactionId,
        dialog: DialogId,
    },
    /// A stream connection lost its framing (oversized or unframeable input); the driver
    /// should close it.
    ConnectionUnusable {
        remote: SocketAddr,
        transport: Transport,
        error: ParseError,
    },
}
