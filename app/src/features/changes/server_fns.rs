//! Server functions of the change log.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One change as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    pub id: i64,
    pub at: String,
    pub service: String,
    pub kind: String,
    pub version: String,
    pub description: String,
    /// The author, or who recorded it when no author was given.
    pub author: String,
    /// An http(s) link (checked when recorded), or empty.
    pub url: String,
    /// Around an incident: when it happened relative to detection (negative: before).
    pub offset_ms: Option<i64>,
}

/// The changes of a period (`24h`, `7d` default, `30d`, `90d`), newest first.
#[server(prefix = "/rpc", endpoint = "changes/list")]
pub async fn list_changes(
    range: String,
    service: String,
    kind: String,
    q: String,
) -> Result<Vec<ChangeRow>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let now = svc.now_ms();
    let days = match range.as_str() {
        "24h" => 1,
        "30d" => 30,
        "90d" => 90,
        _ => 7,
    };
    let kind = match kind.trim() {
        "" => None,
        k => Some(domain::changes::ChangeKind::parse(k).ok_or_else(|| {
            AppError::from(services::ServiceError::invalid("kind", "deploy, config or flag"))
        })?),
    };
    let filter = services::changes::ChangeFilter {
        from_ms: Some(now - days * 86_400_000),
        to_ms: None,
        services: services::changes::ChangeFilter::services_from(&service),
        kind,
        q: Some(q).filter(|q| !q.trim().is_empty()),
        limit: 500,
    };
    let changes = svc.changes().list_changes(&actor, &filter).await?;
    Ok(changes.iter().map(|c| ssr::row(c, &actor.time_zone, None)).collect())
}

/// Records a change by hand (responders); errors name the field.
#[server(prefix = "/rpc", endpoint = "changes/record")]
pub async fn record_change(
    service: String,
    kind: String,
    version: String,
    description: String,
    url: String,
) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let spec = domain::changes::ChangeSpec {
        service,
        kind,
        version,
        author: actor.name.clone(),
        description,
        url,
        at_ms: None,
        id: None,
    };
    Ok(svc.changes().record_change(&actor, &spec).await?.0.id)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use super::ChangeRow;
    use domain::changes::Change;

    pub fn row(c: &Change, tz: &str, detected_ms: Option<i64>) -> ChangeRow {
        ChangeRow {
            id: c.id,
            at: services::timefmt::format_ms(c.at_ms, tz),
            service: c.service.clone(),
            kind: c.kind.as_str().to_owned(),
            version: c.version.clone(),
            description: c.description.clone(),
            author: if c.author.is_empty() { c.recorded_by.clone() } else { c.author.clone() },
            url: c.url.clone(),
            offset_ms: detected_ms.map(|d| c.at_ms - d),
        }
    }
}
