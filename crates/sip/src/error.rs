//! The crate's error type: misuse of the endpoint API by the application, or a message that
//! cannot be parsed.

use crate::message::Method;
use crate::parse::ParseError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The transaction ended (or never existed): it may have been cancelled or expired.
    #[error("unknown or finished server transaction")]
    UnknownTransaction,
    #[error("a final response was already sent in this transaction")]
    FinalResponseAlreadySent,
    #[error("status {0} is not a response status (100-699)")]
    InvalidStatus(u16),
    #[error("unknown or ended dialog")]
    UnknownDialog,
    /// Only non-INVITE requests other than ACK and CANCEL can be sent in a dialog.
    #[error("cannot send {0} in a dialog")]
    UnsupportedMethod(Method),
    /// RFC 3261 §7.4.1: a non-empty body needs a Content-Type.
    #[error("a body needs a Content-Type header field")]
    BodyWithoutContentType,
}
