//! Why a recording was refused: a stable machine code for counters, reports and SIP/HTTP
//! mapping, and a human message for the operator. Messages name participants by 1-based
//! ordinal and role, never by address or name, because reasons are logged and audited.

use std::fmt;

use model::ConsentPolicy;

/// Evidence that was supplied for a participant but did not count, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscardedEvidence {
    /// Items timestamped after the call's end.
    pub after_call_end: usize,
    /// Items whose reference is empty (or only whitespace): nothing an auditor could check.
    pub empty_reference: usize,
}

impl DiscardedEvidence {
    pub fn total(self) -> usize {
        self.after_call_end + self.empty_reference
    }

    pub(crate) fn add(&mut self, other: DiscardedEvidence) {
        self.after_call_end += other.after_call_end;
        self.empty_reference += other.empty_reference;
    }
}

impl fmt::Display for DiscardedEvidence {
    /// `"; 1 item was discarded (timestamped after the call ended)"`, or nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        if total == 0 {
            return Ok(());
        }
        let (noun, verb) = if total == 1 {
            ("item", "was")
        } else {
            ("items", "were")
        };
        write!(f, "; {total} evidence {noun} {verb} discarded (")?;
        let mut separator = "";
        if self.after_call_end > 0 {
            write!(
                f,
                "{} timestamped after the call ended",
                self.after_call_end
            )?;
            separator = ", ";
        }
        if self.empty_reference > 0 {
            write!(
                f,
                "{separator}{} with an empty reference",
                self.empty_reference
            )?;
        }
        f.write_str(")")
    }
}

/// Why a call may not be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// The call names no participant, so nobody can be shown to have consented.
    NoParticipants,
    /// All-party policy, and this participant has no usable evidence.
    ParticipantWithoutEvidence {
        /// 1-based position of the participant in the call.
        ordinal: usize,
        /// The participant's role if it is one plain word (`customer`), else `unrecognised role`.
        role: String,
        policy: ConsentPolicy,
        discarded: DiscardedEvidence,
    },
    /// All-party policy, and this participant asked not to be recorded (`recordpref off`).
    ParticipantOptedOut { ordinal: usize, role: String },
    /// One-party policy, and not one participant has usable evidence.
    NoParticipantWithEvidence {
        participants: usize,
        opted_out: usize,
        policy: ConsentPolicy,
        discarded: DiscardedEvidence,
    },
}

impl RefusalReason {
    /// Stable machine code: used in metrics labels, the transparency report, the audit log and
    /// the SIP `Reason`/HTTP problem mapping. Never change a published code.
    pub fn as_code(&self) -> &'static str {
        match self {
            RefusalReason::NoParticipants => "no-participants",
            RefusalReason::ParticipantWithoutEvidence { .. } => "participant-without-evidence",
            RefusalReason::ParticipantOptedOut { .. } => "participant-opted-out",
            RefusalReason::NoParticipantWithEvidence { .. } => "no-participant-with-evidence",
        }
    }

    /// Every code [`RefusalReason::as_code`] can return, for reports that list zero counts.
    pub const CODES: [&'static str; 4] = [
        "no-participants",
        "participant-without-evidence",
        "participant-opted-out",
        "no-participant-with-evidence",
    ];
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalReason::NoParticipants => {
                f.write_str("the call names no participants, so no consent evidence can apply")
            }
            RefusalReason::ParticipantWithoutEvidence {
                ordinal,
                role,
                policy,
                discarded,
            } => write!(
                f,
                "participant {ordinal} ({role}) has no usable consent evidence, and the {policy} policy requires every participant to be covered{discarded}"
            ),
            RefusalReason::ParticipantOptedOut { ordinal, role } => write!(
                f,
                "participant {ordinal} ({role}) asked not to be recorded (recordpref off), and the all-party policy requires every participant to be covered"
            ),
            RefusalReason::NoParticipantWithEvidence {
                participants,
                opted_out,
                policy,
                discarded,
            } => {
                write!(
                    f,
                    "none of the {participants} participants has usable consent evidence, and the {policy} policy requires at least one to be covered"
                )?;
                if *opted_out > 0 {
                    write!(f, "; {opted_out} asked not to be recorded")?;
                }
                write!(f, "{discarded}")
            }
        }
    }
}

/// The longest role kept in a reason.
const MAX_ROLE_CHARS: usize = 24;

/// Reduces a free-text role (from a sidecar or metadata) to something safe to log. A role is
/// kept, lower-cased, only when it is one word of ASCII letters, `-` and `_` of at most 24
/// characters (`customer`, `agent`, `supervisor`); anything else (digits, spaces, `@`, `:`)
/// might be a number, an address or a name put in the wrong field, and reads `unrecognised
/// role`. An empty role reads `unspecified`.
pub(crate) fn safe_role(role: &str) -> String {
    let role = role.trim();
    if role.is_empty() {
        return "unspecified".to_owned();
    }
    let is_word = role.len() <= MAX_ROLE_CHARS
        && role.starts_with(|c: char| c.is_ascii_alphabetic())
        && role
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_');
    if is_word {
        role.to_ascii_lowercase()
    } else {
        "unrecognised role".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_is_reduced_to_a_log_safe_token() {
        assert_eq!(safe_role(" Customer "), "customer");
        assert_eq!(safe_role("team-lead"), "team-lead");
        assert_eq!(safe_role("  "), "unspecified");
        assert_eq!(safe_role("agent 7 <a@b>"), "unrecognised role");
        assert_eq!(safe_role("Ann Customer"), "unrecognised role");
        assert_eq!(safe_role("tel:+441632960001"), "unrecognised role");
        assert_eq!(safe_role(&"x".repeat(100)), "unrecognised role");
    }

    #[test]
    fn discarded_evidence_is_explained_in_the_message() {
        let reason = RefusalReason::ParticipantWithoutEvidence {
            ordinal: 2,
            role: "customer".to_owned(),
            policy: ConsentPolicy::AllParty,
            discarded: DiscardedEvidence {
                after_call_end: 1,
                empty_reference: 2,
            },
        };
        assert_eq!(
            reason.to_string(),
            "participant 2 (customer) has no usable consent evidence, and the all-party policy requires every participant to be covered; 3 evidence items were discarded (1 timestamped after the call ended, 2 with an empty reference)"
        );
    }

    #[test]
    fn every_reason_code_is_listed() {
        let reasons = [
            RefusalReason::NoParticipants,
            RefusalReason::ParticipantWithoutEvidence {
                ordinal: 1,
                role: String::new(),
                policy: ConsentPolicy::AllParty,
                discarded: DiscardedEvidence::default(),
            },
            RefusalReason::ParticipantOptedOut {
                ordinal: 1,
                role: String::new(),
            },
            RefusalReason::NoParticipantWithEvidence {
                participants: 1,
                opted_out: 0,
                policy: ConsentPolicy::OneParty,
                discarded: DiscardedEvidence::default(),
            },
        ];
        let codes: Vec<_> = reasons.iter().map(RefusalReason::as_code).collect();
        assert_eq!(codes, RefusalReason::CODES);
    }
}
