//! Message boundaries in a stream transport (TCP, TLS): RFC 3261 §18.3 frames each message
//! by its Content-Length; CRLFs between messages are ignored (§7.5) and a double CRLF is a
//! keep-alive ping (RFC 5626 §3.5.1).

use crate::message::Message;
use crate::parse::{Limits, ParseError, ParseErrorKind, parse_message, scan_content_length};

/// What the framer cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Message(Message),
    /// A CRLFCRLF ping; RFC 5626 §4.4.1 answers it with a single CRLF pong.
    KeepAlivePing,
}

/// Buffers the bytes of one stream connection and cuts them into messages.
#[derive(Debug)]
pub struct StreamFramer {
    buffer: Vec<u8>,
    limits: Limits,
    broken: bool,
}

impl StreamFramer {
    pub fn new(limits: Limits) -> StreamFramer {
        StreamFramer {
            buffer: Vec::new(),
            limits,
            broken: false,
        }
    }

    /// Appends bytes read from the connection. Refuses (and breaks the stream) when the
    /// buffer would grow past twice the message limit: a peer cannot make us hold more.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), ParseError> {
        if self.broken {
            return Err(ParseError::new(ParseErrorKind::StreamBroken));
        }
        let size = self.buffer.len().saturating_add(bytes.len());
        let limit = self.limits.max_message_size.saturating_mul(2);
        if size > limit {
            self.broken = true;
            self.buffer.clear();
            return Err(ParseError::new(ParseErrorKind::MessageTooLarge {
                size,
                limit,
            }));
        }
        self.buffer.extend_from_slice(bytes);
        Ok(())
    }

    /// Bytes waiting for the rest of their message.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Whether the stream lost its framing; the connection should be closed.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The next complete frame; `None` when more bytes are needed or the stream is broken.
    /// A message that is framed correctly but malformed inside comes back as `Err` and the
    /// stream stays usable; an error in the framing itself breaks the stream.
    pub fn next_frame(&mut self) -> Option<Result<Frame, ParseError>> {
        if self.broken {
            return None;
        }
        loop {
            if self.buffer.starts_with(b"\r\n\r\n") {
                self.buffer.drain(..4);
                return Some(Ok(Frame::KeepAlivePing));
            }
            match self.buffer.first() {
                None => return None,
                // A lone CR/LF might be the start of a ping still in flight.
                Some(b'\r' | b'\n') if b"\r\n\r\n".starts_with(&self.buffer) => return None,
                Some(b'\r' | b'\n') => {
                    self.buffer.remove(0);
                }
                Some(_) => break,
            }
        }
        let window = self.buffer.len().min(self.limits.max_message_size);
        let Some(head_end) = find_head_end(&self.buffer[..window]) else {
            if self.buffer.len() >= self.limits.max_message_size {
                return Some(Err(self.break_stream(ParseErrorKind::MessageTooLarge {
                    size: self.buffer.len(),
                    limit: self.limits.max_message_size,
                })));
            }
            return None;
        };
        // RFC 3261 §18.3: Content-Length MUST be used on stream transports; a message
        // without one is taken to have no body.
        let body_length = match scan_content_length(&self.buffer[..head_end], &self.limits) {
            Ok(length) => length.unwrap_or(0),
            Err(kind) => {
                // Answerable (413 for a huge Content-Length) but the framing is lost.
                let error = match parse_message(&self.buffer[..head_end], &self.limits) {
                    Err(error) if error.kind() == &kind => error,
                    _ => ParseError::new(kind),
                };
                self.broken = true;
                self.buffer.clear();
                return Some(Err(error));
            }
        };
        let frame_end = head_end.saturating_add(body_length);
        if frame_end > self.limits.max_message_size {
            return Some(Err(self.break_stream(ParseErrorKind::MessageTooLarge {
                size: frame_end,
                limit: self.limits.max_message_size,
            })));
        }
        if self.buffer.len() < frame_end {
            return None;
        }
        let frame: Vec<u8> = self.buffer.drain(..frame_end).collect();
        Some(parse_message(&frame, &self.limits).map(Frame::Message))
    }

    fn break_stream(&mut self, kind: ParseErrorKind) -> ParseError {
        self.broken = true;
        self.buffer.clear();
        ParseError::new(kind)
    }
}

/// The offset just past the empty line ending the head (CRLFCRLF, or LFLF tolerated).
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\n' {
            match bytes.get(index + 1) {
                Some(b'\n') => return Some(index + 2),
                Some(b'\r') if bytes.get(index + 2) == Some(&b'\n') => return Some(index + 3),
                _ => {}
            }
        }
        index += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_accepts_crlf_and_lf() {
        assert_eq!(find_head_end(b"A\r\n\r\nbody"), Some(5));
        assert_eq!(find_head_end(b"A\n\nbody"), Some(3));
        assert_eq!(find_head_end(b"A\r\nB\r\n"), None);
    }
}
