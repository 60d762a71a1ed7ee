use std::fmt;

use serde::{Deserialize, Serialize};

/// Personal data: a phone number, a SIP address, a name. It redacts itself in `Debug` and
/// `Display`, so it cannot reach a log line by accident; reading it takes an explicit
/// [`Pii::dangerous_reveal`] at the place that needs the value (a catalog row, an export).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pii<T>(T);

impl<T> Pii<T> {
    pub fn new(value: T) -> Pii<T> {
        Pii(value)
    }

    /// The personal value itself. Named so that every use stands out in review.
    pub fn dangerous_reveal(&self) -> &T {
        &self.0
    }

    pub fn dangerous_into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pii(<redacted>)")
    }
}

impl<T> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> From<T> for Pii<T> {
    fn from(value: T) -> Pii<T> {
        Pii(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_is_redacted_in_debug_and_display() {
        let number = Pii::new("tel:+441632960001".to_owned());
        assert!(!format!("{number:?}").contains("1632"));
        assert!(!format!("{number}").contains("1632"));
        assert_eq!(number.dangerous_reveal(), "tel:+441632960001");
    }
}
