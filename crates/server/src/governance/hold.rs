//! `onrecord hold set|release|list`.

use anyhow::{Result, anyhow};
use catalog::governance::{Hold, HoldRelease, HoldScope, NewHold};
use model::TenantId;
use serde_json::{Value, json};

use super::Target;
use crate::app::App;

/// The scope the command line names: `--recording`, `--participant`, or a query of
/// `--from`/`--before` (RFC 3339) and `--tag`.
pub fn scope_from_args(
    recording: Option<&str>,
    participant: Option<&str>,
    from: Option<&str>,
    before: Option<&str>,
    tag: Option<String>,
) -> Result<HoldScope> {
    let time = |flag: &str, text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&chrono::Utc))
            .map_err(|e| anyhow!("{flag}: {e}"))
    };
    if recording.is_none() && participant.is_none() {
        if from.is_none() && before.is_none() && tag.is_none() {
            return Err(anyhow!(
                "give --recording ID, --participant ADDRESS, or a query (--from, --before, --tag)"
            ));
        }
        return Ok(HoldScope::Query {
            started_from: from.map(|text| time("--from", text)).transpose()?,
            started_before: before.map(|text| time("--before", text)).transpose()?,
            tag,
        });
    }
    if from.is_some() || before.is_some() || tag.is_some() {
        return Err(anyhow!(
            "--from/--before/--tag make a query hold; leave out --recording and --participant"
        ));
    }
    Ok(match Target::from_args(recording, participant)? {
        Target::Recording(id) => HoldScope::Recording(id),
        Target::Participant(address) => HoldScope::Participant(address),
    })
}

pub async fn set(app: &App, tenant: TenantId, scope: HoldScope, reason: String) -> Result<Hold> {
    app.tenant_config(&tenant)?;
    let (hold, _) = app
        .catalog
        .place_hold(&NewHold {
            tenant,
            scope,
            reason,
            holder: app.actor.clone(),
            at: app.clock.wall(),
        })
        .await?;
    Ok(hold)
}

pub async fn release(
    app: &App,
    tenant: TenantId,
    scope: HoldScope,
    reason: String,
) -> Result<Vec<Hold>> {
    app.catalog
        .release_holds(
            &tenant,
            &scope,
            &HoldRelease {
                by: app.actor.clone(),
                reason,
                at: app.clock.wall(),
            },
        )
        .await
        .map_err(|error| anyhow!("cannot release: {error}"))
}

/// The JSON view of a hold. The participant address is shown: the operator asked for it.
pub fn hold_json(hold: &Hold) -> Value {
    let mut value = json!({
        "id": hold.id,
        "tenant": hold.tenant,
        "scope": hold.scope.kind(),
        "reason": hold.reason,
        "holder": hold.holder,
        "placed_at": hold.placed_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "active": hold.is_active(),
    });
    match &hold.scope {
        HoldScope::Recording(id) => value["recording"] = json!(id),
        HoldScope::Participant(address) => value["participant"] = json!(address.dangerous_reveal()),
        HoldScope::Query {
            started_from,
            started_before,
            tag,
        } => {
            value["started_from"] = json!(started_from);
            value["started_before"] = json!(started_before);
            value["tag"] = json!(tag);
        }
    }
    if let Some(release) = &hold.released {
        value["released"] = json!({
            "by": release.by,
            "reason": release.reason,
            "at": release.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
    }
    value
}
