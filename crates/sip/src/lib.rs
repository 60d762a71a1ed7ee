//! Sans-IO SIP for a recording server (the UAS side of RFC 3261).
//!
//! Owns: the SIP message parser (tolerant, bounded, panic-free) and serializer, typed views
//! of header fields, the stream framer for TCP/TLS, server transactions (INVITE and
//! non-INVITE, RFC 3261 §17.2 with RFC 6026), non-INVITE client transactions (§17.1.2),
//! UAS dialogs (§12) with 2xx retransmission (§13.3.1.4), CANCEL (§9.2), OPTIONS (§11),
//! and an [`Endpoint`] that ties them together behind `handle_input` / `poll_transmit` /
//! `poll_event` / `poll_timeout` / `handle_timeout`.
//!
//! Never does: sockets, DNS, TLS, tasks or clock reads (time comes in as `now`), SDP or
//! SIPREC decisions (the application answers every INVITE), sending INVITEs, logging
//! personal data (`Debug` output of messages redacts addresses and names).

mod build;
mod dialog;
mod endpoint;
mod error;
mod event;
mod framer;
pub mod headers;
mod message;
mod parse;
mod transaction;

pub use build::response_to;
pub use dialog::Dialog;
pub use endpoint::{Endpoint, EndpointConfig};
pub use error::Error;
pub use event::{
    ClientTransactionId, DialogEndReason, DialogId, Event, ServerTransactionId, Transmit, Transport,
};
pub use framer::{Frame, StreamFramer};
pub use headers::{CSeq, ContentType, HeaderError, NameAddr, Params, SipUri, Via, Warning};
pub use message::{
    Header, Headers, Message, Method, Request, Response, header_names_equal, long_header_name,
    reason_phrase,
};
pub use parse::{Limits, ParseError, ParseErrorKind, parse_message};
pub use transaction::Timers;
