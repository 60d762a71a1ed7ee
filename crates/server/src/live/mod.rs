//! Live recording: the SIPREC recording server's transports, RTP receive path and finalising
//! of recorded calls into the archive.

mod certify;
pub mod client;
pub mod committer;
mod finalize;
pub mod media;
pub mod ports;
pub mod server;
