//! Retention in the catalog: the minimum-retention floors that can only be raised, and the
//! query that finds recordings whose retention has run out.
//!
//! A floor ([`RetentionFloor`]) is a number of days during which no recording it covers can
//! be erased by anything (SEC rule 17a-4(f), MiFID II art. 16(7): records kept for a fixed
//! period that nobody may shorten). It covers either every recording of a tenant
//! ([`FloorScope::Tenant`]) or every recording of the tenant carrying a tag
//! ([`FloorScope::Tag`]). Floors are stored once set and can only be raised:
//! [`Retention::set_retention_floor`] refuses a lower value, writing the refusal to the audit
//! chain (`retention.shorten-refused`) in the same transaction. Erasure
//! ([`crate::Governance::shred_recordings`], [`crate::Catalog::erase_recording`]) checks the
//! stored floors inside the erasing transaction.
//!
//! The rules, one function each, used by every backend:
//! - a recording's floor ([`floor_of`]) is the longest of its tenant's floor and the floors of
//!   its tags: a tag can lengthen the floor, never escape it;
//! - its retention ([`RetentionPolicy::retention_of`]) is the longest `days` among its tags
//!   that have a rule, the tenant's default when none has;
//! - it is kept until `started_at` + the longer of the two ([`retain_until`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use model::TenantId;
use serde_json::json;

use crate::audit::AuditEntry;
use crate::error::{CatalogError, Conflict};
use crate::time::truncate_millis;
use crate::types::{Cursor, MAX_PAGE, MAX_SHORT_TEXT_BYTES, MAX_TAG_BYTES, Recording};

/// The longest retention or floor the catalog accepts: 100 years.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// What a floor covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FloorScope {
    /// Every recording of the tenant, tagged or not.
    Tenant,
    /// Every recording of the tenant carrying this tag.
    Tag(String),
}

impl FloorScope {
    /// `tenant` or `tag:NAME`, as audit entries and messages name it.
    pub fn label(&self) -> String {
        match self {
            FloorScope::Tenant => "tenant".into(),
            FloorScope::Tag(tag) => format!("tag:{tag}"),
        }
    }

    /// The stored form: the tag, or `''` for the tenant (a tag is never empty).
    pub(crate) fn column(&self) -> &str {
        match self {
            FloorScope::Tenant => "",
            FloorScope::Tag(tag) => tag,
        }
    }

    pub(crate) fn from_column(tag: String) -> FloorScope {
        if tag.is_empty() {
            FloorScope::Tenant
        } else {
            FloorScope::Tag(tag)
        }
    }

    fn checked(&self) -> Result<(), CatalogError> {
        if let FloorScope::Tag(tag) = self
            && (tag.is_empty() || tag.len() > MAX_TAG_BYTES)
        {
            return Err(CatalogError::Invalid(format!(
                "tag must be 1 to {MAX_TAG_BYTES} bytes"
            )));
        }
        Ok(())
    }
}

/// A stored minimum retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionFloor {
    pub tenant: TenantId,
    pub scope: FloorScope,
    pub minimum_days: u32,
    /// When and by whom it was last set or raised.
    pub set_at: DateTime<Utc>,
    pub set_by: String,
}

impl RetentionFloor {
    pub fn covers(&self, recording: &Recording) -> bool {
        recording.tenant == self.tenant
            && match &self.scope {
                FloorScope::Tenant => true,
                FloorScope::Tag(tag) => recording.tags.iter().any(|candidate| candidate == tag),
            }
    }
}

/// A request to set or raise a floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorChange {
    pub tenant: TenantId,
    pub scope: FloorScope,
    pub minimum_days: u32,
    pub at: DateTime<Utc>,
    /// Who asks (the audit actor).
    pub actor: String,
    /// Where the request came from: `config.toml`, `cli`, `api`.
    pub via: String,
}

impl FloorChange {
    pub(crate) fn checked(&self) -> Result<FloorChange, CatalogError> {
        self.scope.checked()?;
        if self.minimum_days == 0 || self.minimum_days > MAX_RETENTION_DAYS {
            return Err(CatalogError::Invalid(format!(
                "minimum retention must be 1 to {MAX_RETENTION_DAYS} days"
            )));
        }
        for (what, value) in [("actor", &self.actor), ("via", &self.via)] {
            if value.is_empty() || value.len() > MAX_SHORT_TEXT_BYTES {
                return Err(CatalogError::Invalid(format!(
                    "{what} must be 1 to {MAX_SHORT_TEXT_BYTES} bytes"
                )));
            }
        }
        Ok(FloorChange {
            at: truncate_millis(&self.at),
            ..self.clone()
        })
    }

    /// The stored floor this change makes.
    pub(crate) fn floor(&self) -> RetentionFloor {
        RetentionFloor {
            tenant: self.tenant.clone(),
            scope: self.scope.clone(),
            minimum_days: self.minimum_days,
            set_at: self.at,
            set_by: self.actor.clone(),
        }
    }

    /// What to do given the stored floor, and the audit entry's action and details.
    pub(crate) fn decide(&self, stored: Option<&RetentionFloor>) -> FloorDecision {
        let mut details = json!({
            "scope": self.scope.label(),
            "minimum_days": self.minimum_days,
            "via": self.via,
        });
        match stored {
            None => FloorDecision::Write("retention.minimum-set", details),
            Some(stored) if self.minimum_days > stored.minimum_days => {
                details["previous_minimum_days"] = json!(stored.minimum_days);
                FloorDecision::Write("retention.minimum-raised", details)
            }
            Some(stored) if self.minimum_days == stored.minimum_days => FloorDecision::Unchanged,
            Some(stored) => {
                details["stored_minimum_days"] = json!(stored.minimum_days);
                details["requested_minimum_days"] = json!(self.minimum_days);
                FloorDecision::Refuse(details)
            }
        }
    }
}

pub(crate) enum FloorDecision {
    Write(&'static str, serde_json::Value),
    Unchanged,
    Refuse(serde_json::Value),
}

/// What [`Retention::set_retention_floor`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum FloorOutcome {
    /// No floor was stored for this scope; now one is (`retention.minimum-set`).
    Set { entry: AuditEntry },
    /// The stored floor was lower and is raised (`retention.minimum-raised`).
    Raised { previous: u32, entry: AuditEntry },
    /// The same value is stored already; nothing was written.
    Unchanged,
    /// The request would shorten the stored floor: nothing changed, and the refusal is in the
    /// audit chain (`retention.shorten-refused`).
    Refused {
        stored: RetentionFloor,
        entry: AuditEntry,
    },
}

/// How long a tenant keeps recordings (from its configuration, which the catalog does not
/// own): a default and per-tag rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub default_days: u32,
    /// Tag → days, for tags with a rule of their own.
    pub tags: BTreeMap<String, u32>,
}

/// Which rule gave a recording its retention or floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    TenantDefault,
    Tag(String),
}

impl RuleSource {
    pub fn label(&self) -> String {
        match self {
            RuleSource::TenantDefault => "tenant".into(),
            RuleSource::Tag(tag) => format!("tag:{tag}"),
        }
    }
}

impl RetentionPolicy {
    /// The longest `days` among the recording's tags that have a rule; the tenant default
    /// when none has.
    pub fn retention_of(&self, tags: &[String]) -> (u32, RuleSource) {
        tags.iter()
            .filter_map(|tag| self.tags.get(tag).map(|days| (*days, tag)))
            .max_by_key(|(days, _)| *days)
            .map(|(days, tag)| (days, RuleSource::Tag(tag.clone())))
            .unwrap_or((self.default_days, RuleSource::TenantDefault))
    }

    /// The shortest retention any recording can get: nothing younger than this has expired.
    pub fn shortest_days(&self) -> u32 {
        self.tags
            .values()
            .copied()
            .chain([self.default_days])
            .min()
            .unwrap_or(self.default_days)
    }

    pub(crate) fn checked(&self) -> Result<(), CatalogError> {
        let bad = |days: u32| days == 0 || days > MAX_RETENTION_DAYS;
        if bad(self.default_days) || self.tags.values().copied().any(bad) {
            return Err(CatalogError::Invalid(format!(
                "retention must be 1 to {MAX_RETENTION_DAYS} days"
            )));
        }
        Ok(())
    }
}

/// The floor that applies to a recording: the longest of those covering it.
pub fn floor_of<'a>(
    floors: &'a [RetentionFloor],
    recording: &Recording,
) -> Option<&'a RetentionFloor> {
    floors
        .iter()
        .filter(|floor| floor.covers(recording))
        .max_by_key(|floor| floor.minimum_days)
}

/// `start` + `days`, saturating at the largest representable time.
pub fn days_after(start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    start
        .checked_add_signed(Duration::days(i64::from(days)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Until when a recording must be kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainUntil {
    pub until: DateTime<Utc>,
    pub retention_days: u32,
    pub rule: RuleSource,
    /// The floor covering the recording, if any; it wins when it is longer.
    pub minimum_days: Option<u32>,
}

/// `started_at` + the longer of its retention and its floor.
pub fn retain_until(
    policy: &RetentionPolicy,
    floors: &[RetentionFloor],
    recording: &Recording,
) -> RetainUntil {
    let (retention_days, rule) = policy.retention_of(&recording.tags);
    let minimum_days = floor_of(floors, recording).map(|floor| floor.minimum_days);
    let days = retention_days.max(minimum_days.unwrap_or(0));
    RetainUntil {
        until: days_after(recording.started_at, days),
        retention_days,
        rule,
        minimum_days,
    }
}

/// The refusal to erase a recording inside its floor, or `Ok` when erasing is allowed at `at`.
pub(crate) fn check_floor(
    floors: &[RetentionFloor],
    recording: &Recording,
    at: DateTime<Utc>,
) -> Result<(), Conflict> {
    let Some(floor) = floor_of(floors, recording) else {
        return Ok(());
    };
    let until = days_after(recording.started_at, floor.minimum_days);
    if at < until {
        return Err(Conflict::MinimumRetention {
            id: recording.id,
            minimum_days: floor.minimum_days,
            scope: floor.scope.label(),
            until,
        });
    }
    Ok(())
}

/// Which expired recordings to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryQuery {
    pub tenant: TenantId,
    pub policy: RetentionPolicy,
    pub now: DateTime<Utc>,
    /// Continue after this position (oldest first: `started_at`, then id, ascending).
    pub after: Option<Cursor>,
    /// 1 to [`MAX_PAGE`].
    pub limit: u32,
}

impl ExpiryQuery {
    pub(crate) fn checked(&self) -> Result<(), CatalogError> {
        self.policy.checked()?;
        if self.limit == 0 || self.limit > MAX_PAGE {
            return Err(CatalogError::Invalid(format!(
                "page limit must be 1 to {MAX_PAGE}"
            )));
        }
        Ok(())
    }

    /// Recordings started before this cannot all be young: the scan's upper bound.
    pub(crate) fn started_before(&self) -> DateTime<Utc> {
        self.now
            .checked_sub_signed(Duration::days(i64::from(self.policy.shortest_days())))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// A committed recording whose retention (and floor) has run out.
#[derive(Debug, Clone, PartialEq)]
pub struct Expired {
    pub recording: Recording,
    pub retain_until: RetainUntil,
}

/// One page of expired recordings, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiredPage {
    pub items: Vec<Expired>,
    /// Where the next page starts; `None` when the scan is done.
    pub next: Option<Cursor>,
}

/// The retention operations, a supertrait of [`crate::Catalog`].
#[async_trait]
pub trait Retention: Send + Sync {
    /// Set or raise a floor; a lower value is refused and the refusal audited (see
    /// [`FloorOutcome`]). `NotFound` for an unknown tenant.
    async fn set_retention_floor(&self, change: &FloorChange)
    -> Result<FloorOutcome, CatalogError>;

    /// Stored floors of one tenant or of all, ordered by tenant then scope (tenant first).
    async fn retention_floors(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<RetentionFloor>, CatalogError>;

    /// The tenant's committed recordings kept past [`retain_until`] at `now` (the tenant's
    /// stored floors included), oldest first, one page at a time. Held recordings are
    /// included: erasure refuses them and says why.
    async fn expired_recordings(&self, query: &ExpiryQuery) -> Result<ExpiredPage, CatalogError>;
}

/// Applies [`retain_until`] to one page of candidates (oldest first), keeping at most
/// `limit` expired ones. Returns them and whether the page was cut short (then the cursor is
/// the last item kept).
pub(crate) fn pick_expired(
    query: &ExpiryQuery,
    floors: &[RetentionFloor],
    candidates: Vec<Recording>,
    found: &mut Vec<Expired>,
) -> Option<Cursor> {
    for recording in candidates {
        let until = retain_until(&query.policy, floors, &recording);
        let position = Cursor {
            started_at_millis: recording.started_at.timestamp_millis(),
            id: recording.id,
        };
        if until.until <= query.now {
            found.push(Expired {
                recording,
                retain_until: until,
            });
            if found.len() >= query.limit as usize {
                return Some(position);
            }
        }
    }
    None
}

/// Whether `(started_at, id)` lies after the cursor, oldest first.
pub(crate) fn is_after(recording: &Recording, after: Option<&Cursor>) -> bool {
    after.is_none_or(|cursor| {
        let millis = recording.started_at.timestamp_millis();
        millis > cursor.started_at_millis
            || (millis == cursor.started_at_millis && recording.id > cursor.id)
    })
}
