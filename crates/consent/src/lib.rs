//! Consent decisions: the tenant's policy and the evidence supplied with a call go in, a
//! decision to record (with the evidence that covers each participant) or to refuse (with a
//! reason) comes out.
//!
//! Owns: the coverage rules of DESIGN.md "Consent evidence" (per-call evidence, recording-
//! client attestation, staff address patterns, all-party vs one-party, opt-out), the staff
//! pattern matcher ([`StaffPatterns`]) and the refusal reasons with their stable codes.
//! Never does: I/O, parsing of wire formats (SIPREC metadata and import sidecars are parsed by
//! their own crates), reading the clock (the call's end is an input), or logging personal
//! data: a [`RefusalReason`] names participants by ordinal and role, never by address.

mod decision;
mod reason;
mod staff;

pub use decision::{
    Attestation, AttestationError, Call, ConsentRules, CoveredParticipant, Decision, Participant,
};
pub use reason::{DiscardedEvidence, RefusalReason};
pub use staff::{MAX_PATTERN_BYTES, MAX_PATTERNS, PatternError, StaffPatterns};
