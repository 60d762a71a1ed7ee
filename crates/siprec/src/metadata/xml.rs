//! A bounded XML tree reader over quick-xml's namespace-aware pull parser. Element order and
//! prefixes do not matter to the interpreter that walks the tree; namespaces are resolved.

use std::collections::HashMap;

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::MetadataNamespace;
use super::consent::CONSENT_NAMESPACE;
use crate::SiprecError;

/// Largest metadata document accepted, in bytes.
pub const MAX_METADATA_BYTES: usize = 256 * 1024;
/// Deepest element nesting accepted.
pub const MAX_ELEMENT_DEPTH: usize = 32;
/// Most elements of one name accepted in one document.
pub const MAX_ELEMENTS_PER_KIND: usize = 1_000;

/// The namespace of an element, as far as the interpreter cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// One of the recording-metadata namespaces.
    Recording(MetadataNamespace),
    /// No namespace, or a prefix nobody declared: read leniently as recording metadata.
    Unbound,
    /// Our consent extension.
    Consent,
    /// Anyone else's extension.
    Other,
}

impl Namespace {
    pub(crate) fn is_recording(self) -> bool {
        matches!(self, Namespace::Recording(_) | Namespace::Unbound)
    }
}

#[derive(Debug)]
pub(crate) struct Element {
    pub namespace: Namespace,
    /// Local name, lower-cased (`dataMode` and `datamode` are one element).
    pub name: String,
    /// Attributes by lower-cased local name (`xml:lang` is `lang`); `xmlns` declarations left out.
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub(crate) fn attribute(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|wanted| {
            self.attributes
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.as_str())
        })
    }

    /// Children in a recording namespace (or none) with this lower-cased name.
    pub(crate) fn recording_children<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children
            .iter()
            .filter(move |child| child.namespace.is_recording() && child.name == name)
    }

    pub(crate) fn child_text<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.recording_children(name)
            .next()
            .map(|child| child.text.trim())
    }
}

/// Reads `bytes` into a tree, enforcing every bound and refusing DTDs.
pub(crate) fn read_tree(bytes: &[u8]) -> Result<Element, SiprecError> {
    if bytes.len() > MAX_METADATA_BYTES {
        return Err(SiprecError::MetadataTooLarge {
            size: bytes.len(),
            limit: MAX_METADATA_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| SiprecError::MetadataNotUtf8)?;
    // Refuse entity declarations wherever they hide (a DTD is the only place they can live,
    // but a malformed one may not reach the reader as a DOCTYPE event).
    if contains_ignore_case(text, "<!doctype") || contains_ignore_case(text, "<!entity") {
        return Err(SiprecError::DoctypeRefused);
    }
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut counts: HashMap<String, usize> = HashMap::new();
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|error| SiprecError::MalformedXml(error.to_string()))?;
        let namespace = classify_namespace(&resolved);
        match event {
            Event::Start(start) => {
                let element = open(&start, namespace, &mut counts, stack.len())?;
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open(&start, namespace, &mut counts, stack.len())?;
                attach(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                if let Some(element) = stack.pop() {
                    attach(&mut stack, &mut root, element);
                }
            }
            Event::Text(text) => append_text(&mut stack, &text.xml10_content()),
            Event::CData(data) => append_text(&mut stack, &data.xml10_content()),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(character)) => character.to_string(),
                    _ => predefined_entity(&reference.xml10_content())
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("&{};", reference.xml10_content())),
                };
                append_text(&mut stack, &resolved);
            }
            Event::DocType(_) => return Err(SiprecError::DoctypeRefused),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(SiprecError::MalformedXml(
            "document ends inside an element".to_owned(),
        ));
    }
    root.ok_or(SiprecError::EmptyDocument)
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

fn classify_namespace(resolved: &ResolveResult<'_>) -> Namespace {
    match resolved {
        ResolveResult::Bound(namespace) => {
            if let Some(recording) = MetadataNamespace::from_uri(namespace.as_ref().as_bytes()) {
                Namespace::Recording(recording)
            } else if namespace.as_ref() == CONSENT_NAMESPACE {
                Namespace::Consent
            } else {
                Namespace::Other
            }
        }
        ResolveResult::Unbound | ResolveResult::Unknown(_) => Namespace::Unbound,
    }
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    match name {
        "lt" => Some("<"),
        "gt" => Some(">"),
        "amp" => Some("&"),
        "apos" => Some("'"),
        "quot" => Some("\""),
        _ => None,
    }
}

fn open(
    start: &BytesStart<'_>,
    namespace: Namespace,
    counts: &mut HashMap<String, usize>,
    depth: usize,
) -> Result<Element, SiprecError> {
    if depth >= MAX_ELEMENT_DEPTH {
        return Err(SiprecError::TooDeep {
            limit: MAX_ELEMENT_DEPTH,
        });
    }
    let name = start.local_name().as_ref().to_ascii_lowercase();
    let count = counts.entry(name.clone()).or_insert(0);
    *count += 1;
    if *count > MAX_ELEMENTS_PER_KIND {
        return Err(SiprecError::TooManyElements {
            element: name.chars().take(64).collect(),
            limit: MAX_ELEMENTS_PER_KIND,
        });
    }
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| SiprecError::MalformedXml(error.to_string()))?;
        if attribute.key.as_namespace_binding().is_some() {
            continue;
        }
        let key = attribute.key.local_name().as_ref().to_ascii_lowercase();
        let value = match attribute.normalized_value(XmlVersion::Implicit1_0) {
            Ok(value) => value.into_owned(),
            Err(_) => attribute.value.clone().into_owned(),
        };
        attributes.push((key, value));
    }
    Ok(Element {
        namespace,
        name,
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        // Only the first root counts; anything after the root element is ignored.
        None if root.is_none() => *root = Some(element),
        None => {}
    }
}

fn append_text(stack: &mut [Element], text: &str) {
    if let Some(element) = stack.last_mut() {
        element.text.push_str(text);
    }
}
