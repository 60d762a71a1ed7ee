//! Where in the sidecar a value sits, built on the stack as the parser descends and rendered
//! only when an error needs it: `participants[1].consent[0].kind`.

use std::fmt;

#[derive(Debug, Clone, Copy)]
enum Segment<'p> {
    Root,
    Key(&'p JsonPath<'p>, &'static str),
    Index(&'p JsonPath<'p>, usize),
}

/// A JSON path, as a chain of borrowed parents.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonPath<'p> {
    segment: Segment<'p>,
}

impl<'p> JsonPath<'p> {
    pub(crate) const ROOT: JsonPath<'static> = JsonPath {
        segment: Segment::Root,
    };

    pub(crate) fn key(&'p self, key: &'static str) -> JsonPath<'p> {
        JsonPath {
            segment: Segment::Key(self, key),
        }
    }

    pub(crate) fn index(&'p self, index: usize) -> JsonPath<'p> {
        JsonPath {
            segment: Segment::Index(self, index),
        }
    }

    fn is_root(&self) -> bool {
        matches!(self.segment, Segment::Root)
    }
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.segment {
            // The whole document: `$`, as in JSONPath (RFC 9535 §2.2).
            Segment::Root => f.write_str("$"),
            Segment::Key(parent, key) if parent.is_root() => f.write_str(key),
            Segment::Key(parent, key) => write!(f, "{parent}.{key}"),
            Segment::Index(parent, index) if parent.is_root() => write!(f, "$[{index}]"),
            Segment::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_path_renders_like_the_document() {
        let root = JsonPath::ROOT;
        let participants = root.key("participants");
        let second = participants.index(1);
        let consent = second.key("consent");
        let first = consent.index(0);
        assert_eq!(
            first.key("kind").to_string(),
            "participants[1].consent[0].kind"
        );
        assert_eq!(root.to_string(), "$");
        assert_eq!(root.index(3).to_string(), "$[3]");
    }
}
