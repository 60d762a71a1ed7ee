//! Transcript search for onrecord.
//!
//! Owns: one tantivy index per tenant (`{data}/{tenant}/`, or in RAM for tests) whose
//! documents are transcript segments carrying their recording's searchable metadata; full-
//! text queries (phrases, AND/OR/NOT) combined with the listing's filters (time range,
//! participant address, direction, duration range, tags).
//!
//! Never does: hold the truth. The index is derived from the archive and the catalog and
//! can be deleted and rebuilt at any time ([`SearchIndex::clear`], then
//! [`SearchIndex::add_recording`] for every transcript). It is plaintext at rest (put the
//! data directory on an encrypted volume at scale). It never searches across tenants,
//! never links people across calls, and never audits: the caller audits every search.

mod schema;

use std::ops::Bound;
use std::path::Path;

use chrono::{DateTime, Utc};
use model::{Direction, Pii, RecordingId, TenantId};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::schema::Fields;

/// Longest query string accepted.
pub const MAX_QUERY_BYTES: usize = 1_024;
/// Most hits one search returns.
pub const MAX_LIMIT: usize = 1_000;
/// Memory the index writer may buffer before flushing a segment.
const WRITER_MEMORY_BYTES: usize = 50_000_000;

/// Why an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The user's query is malformed (the caller's input; answer 400).
    #[error("query: {0}")]
    Query(String),
    /// The index on disk cannot be opened or written (ours; rebuild it).
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("index directory: {0}")]
    Directory(String),
}

/// One participant of a recording, as the search index knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantDocument {
    /// Position of the participant in the recording (0, 1, …).
    pub ordinal: u32,
    /// The SIPREC stream label or participant name shown with a hit (e.g. `caller`).
    pub label: String,
    /// The participant's address (SIP URI or number), matched exactly by filters.
    pub address: Pii<String>,
}

/// One transcript segment of one participant.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentDocument {
    /// Ordinal of the participant who spoke it (see [`ParticipantDocument::ordinal`]).
    pub participant: u32,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// A recording with its transcripts, as indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingDocument {
    pub recording: RecordingId,
    pub started_at: DateTime<Utc>,
    pub direction: Direction,
    pub duration_ms: u64,
    pub participants: Vec<ParticipantDocument>,
    pub tags: Vec<String>,
    pub segments: Vec<SegmentDocument>,
}

/// Filters, like the listing's. Every field narrows; `None`/empty means any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilters {
    /// Inclusive lower bound on the recording's start.
    pub started_from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on the recording's start.
    pub started_before: Option<DateTime<Utc>>,
    /// Recordings in which this address took part (exact match).
    pub participant_address: Option<Pii<String>>,
    pub direction: Option<Direction>,
    /// Inclusive bounds on the recording's duration.
    pub min_duration_ms: Option<u64>,
    pub max_duration_ms: Option<u64>,
    /// Recordings carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only this recording (search within one call).
    pub recording: Option<RecordingId>,
}

/// One matching segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub recording: RecordingId,
    pub start_ms: u64,
    pub end_ms: u64,
    pub participant: u32,
    pub participant_label: String,
    /// The matching segment's text.
    pub text: String,
    pub score: f32,
}

/// The search index of one tenant.
pub struct SearchIndex {
    tenant: TenantId,
    index: Index,
    reader: IndexReader,
    writer: IndexWriter,
    fields: Fields,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SearchIndex")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens (or creates) the index of `tenant` under `directory/{tenant}/`.
    pub fn open(directory: &Path, tenant: &TenantId) -> Result<SearchIndex, SearchError> {
        let path = directory.join(tenant.as_str());
        std::fs::create_dir_all(&path)
            .map_err(|e| SearchError::Directory(format!("{}: {e}", path.display())))?;
        let mmap = MmapDirectory::open(&path)
            .map_err(|e| SearchError::Directory(format!("{}: {e}", path.display())))?;
        let (schema, fields) = schema::build();
        let index = Index::open_or_create(mmap, schema)?;
        SearchIndex::from_index(index, fields, tenant)
    }

    /// A fresh index in memory (tests, one-off rebuild checks).
    pub fn in_memory(tenant: &TenantId) -> Result<SearchIndex, SearchError> {
        let (schema, fields) = schema::build();
        let index = Index::builder().schema(schema).create_in_ram()?;
        SearchIndex::from_index(index, fields, tenant)
    }

    fn from_index(
        index: Index,
        fields: Fields,
        tenant: &TenantId,
    ) -> Result<SearchIndex, SearchError> {
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            tenant: tenant.clone(),
            index,
            reader,
            writer,
            fields,
        })
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Adds (or replaces) a recording's segments. Visible to searches after [`commit`].
    ///
    /// [`commit`]: SearchIndex::commit
    pub fn add_recording(&mut self, recording: &RecordingDocument) -> Result<(), SearchError> {
        self.delete_recording(&recording.recording);
        for segment in &recording.segments {
            let document = schema::segment_document(&self.fields, recording, segment);
            self.writer.add_document(document)?;
        }
        Ok(())
    }

    /// Removes every segment of a recording. Visible after [`SearchIndex::commit`].
    pub fn delete_recording(&mut self, recording: &RecordingId) {
        self.writer.delete_term(Term::from_field_text(
            self.fields.recording,
            &recording.to_string(),
        ));
    }

    /// Removes everything (before a rebuild). Visible after [`SearchIndex::commit`].
    pub fn clear(&mut self) -> Result<(), SearchError> {
        self.writer.delete_all_documents()?;
        Ok(())
    }

    /// Makes every change so far durable and visible to searches.
    pub fn commit(&mut self) -> Result<(), SearchError> {
        self.writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Searches the committed segments. `query` uses tantivy's syntax over the transcript
    /// text: words (all must match), `"phrases"`, `AND`, `OR`, `NOT`/`-`, parentheses. An
    /// empty query matches every segment that passes the filters. Malformed queries are a
    /// [`SearchError::Query`], never a panic.
    pub fn search(
        &self,
        query: &str,
        filters: &SearchFilters,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        if query.len() > MAX_QUERY_BYTES {
            return Err(SearchError::Query(format!(
                "query is longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if query.trim().is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        } else {
            let mut parser = QueryParser::for_index(&self.index, vec![self.fields.text]);
            parser.set_conjunction_by_default();
            let parsed = parser
                .parse_query(query)
                .map_err(|e| SearchError::Query(e.to_string()))?;
            clauses.push((Occur::Must, complete_negations(parsed.as_ref())));
        }
        clauses.extend(
            self.filter_clauses(filters)
                .into_iter()
                .map(|clause| (Occur::Must, clause)),
        );
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(limit).order_by_score(),
        )?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let document: TantivyDocument = searcher.doc(address)?;
            if let Some(hit) = self.hit(&document, score) {
                hits.push(hit);
            }
        }
        Ok(hits)
    }

    fn filter_clauses(&self, filters: &SearchFilters) -> Vec<Box<dyn Query>> {
        let fields = &self.fields;
        let mut clauses: Vec<Box<dyn Query>> = Vec::new();
        let exact = |field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::Basic,
            ))
        };
        if filters.started_from.is_some() || filters.started_before.is_some() {
            let millis =
                |at: &DateTime<Utc>| Term::from_field_i64(fields.started_at, at.timestamp_millis());
            clauses.push(Box::new(RangeQuery::new(
                filters
                    .started_from
                    .as_ref()
                    .map_or(Bound::Unbounded, |from| Bound::Included(millis(from))),
                filters
                    .started_before
                    .as_ref()
                    .map_or(Bound::Unbounded, |before| Bound::Excluded(millis(before))),
            )));
        }
        if filters.min_duration_ms.is_some() || filters.max_duration_ms.is_some() {
            let term = |ms: u64| Term::from_field_u64(fields.duration, ms);
            clauses.push(Box::new(RangeQuery::new(
                filters
                    .min_duration_ms
                    .map_or(Bound::Unbounded, |ms| Bound::Included(term(ms))),
                filters
                    .max_duration_ms
                    .map_or(Bound::Unbounded, |ms| Bound::Included(term(ms))),
            )));
        }
        if let Some(address) = &filters.participant_address {
            clauses.push(exact(
                fields.address,
                &schema::normalise_address(address.dangerous_reveal()),
            ));
        }
        if let Some(direction) = filters.direction {
            clauses.push(exact(fields.direction, direction.as_str()));
        }
        for tag in &filters.tags {
            clauses.push(exact(fields.tags, tag));
        }
        if let Some(recording) = &filters.recording {
            clauses.push(exact(fields.recording, &recording.to_string()));
        }
        clauses
    }

    fn hit(&self, document: &TantivyDocument, score: f32) -> Option<Hit> {
        let fields = &self.fields;
        let text = |field| {
            document
                .get_first(field)
                .and_then(|value| value.as_str().map(str::to_owned))
        };
        let number = |field| document.get_first(field).and_then(|value| value.as_u64());
        Some(Hit {
            recording: text(fields.recording)?.parse().ok()?,
            start_ms: number(fields.start)?,
            end_ms: number(fields.end)?,
            participant: u32::try_from(number(fields.participant)?).ok()?,
            participant_label: text(fields.participant_label).unwrap_or_default(),
            text: text(fields.text).unwrap_or_default(),
            score,
        })
    }
}

/// Tantivy matches nothing for a boolean query made only of exclusions (`NOT b`, and the
/// `(-b)` inside `a AND NOT b` or `a OR NOT b`). Each such query gets "every document" as
/// its positive part, so `NOT b` means "everything but b", as users expect.
fn complete_negations(query: &dyn Query) -> Box<dyn Query> {
    let Some(boolean) = query.downcast_ref::<BooleanQuery>() else {
        return query.box_clone();
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = boolean
        .clauses()
        .iter()
        .map(|(occur, clause)| (*occur, complete_negations(clause.as_ref())))
        .collect();
    if !clauses.is_empty() && clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::new(clauses))
}

#[cfg(test)]
mod tests;
