//! Recalibrating the active twin head from recent outcomes, as a governance proposal.
//!
//! `rdt models recalibrate-head --since DATE` reads every journey's historical
//! snapshots on or after `DATE` whose outcomes the record now shows, embeds them with
//! the active twin, and asks the active head for a recalibration
//! ([`TwinHead::recalibrate`]: the Cox line per yes/no outcome fitted on half the
//! patients, measured on the other half). When any outcome got one, the new head is
//! written beside the active one under its digest and **pinned, not activated**
//! ([`TwinHead::propose`]), the reason naming the slopes before and after: a
//! governance user adopts it by activating it (`rdt models activate twin_head SHA`, or
//! the governance page) and can roll it back like any artifact. Nothing changes for
//! clinicians until then.

use std::path::Path;

use audit_log::{Digest, ModelRegistry, Principal};
use chrono::NaiveDate;
use journey::store::JourneyStore;
use serde::Serialize;

use super::twin_head::{HeadRow, RecalibratedOutcome, TwinHead, TwinHeadError};
use crate::cohort::query::end_of_day;
use crate::cohort::record::ClinicalRecord;
use crate::index::build::{historical_times, load_journeys};

/// What a recalibration run found, and the proposal's version when it made one.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub since: NaiveDate,
    /// Recent snapshots read (with or without each outcome).
    pub rows: usize,
    pub outcomes: Vec<RecalibratedOutcome>,
    /// The pinned, inactive head; `None` when no outcome had enough rows of both kinds.
    pub version: Option<Digest>,
    /// The active head it recalibrates.
    pub from: Digest,
}

impl Proposal {
    /// The trail's reason and the terminal's summary: per outcome, rows and slopes.
    pub fn text(&self) -> String {
        let parts: Vec<String> = self
            .outcomes
            .iter()
            .map(|o| match (o.line, o.slope_before, o.slope_after) {
                (Some(_), before, after) => format!(
                    "{}: calibration slope {} -> {} on {} check rows ({} fit rows)",
                    o.outcome.key(),
                    before.map_or("-".into(), |s| format!("{s:.2}")),
                    after.map_or("-".into(), |s| format!("{s:.2}")),
                    o.check_rows,
                    o.fit_rows
                ),
                (None, _, _) => format!("{}: not recalibrated ({} fit rows)", o.outcome.key(), o.fit_rows),
            })
            .collect();
        format!(
            "recalibration of twin head {} from {} snapshots since {}: {}",
            self.from.short(),
            self.rows,
            self.since,
            parts.join("; ")
        )
    }
}

/// Proposes a recalibration of the install's active twin head from the snapshots on
/// or after `since` (see the module doc), as `by`.
pub async fn propose_recalibration(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    since: NaiveDate,
    by: &Principal,
) -> Result<Proposal, TwinHeadError> {
    let model = crate::twin::load_active(data_dir, registry).await?;
    let path = TwinHead::install_path(data_dir);
    let head = TwinHead::load_active(&path, registry, model.version).await?;
    let from = Digest::of(&head.file_bytes());
    let journeys = load_journeys(store, None, |_| {})
        .await
        .map_err(|e| TwinHeadError::Io { path: data_dir.to_owned(), source: std::io::Error::other(e.to_string()) })?;
    let records: Vec<ClinicalRecord> = journeys.iter().map(|(_, e)| ClinicalRecord::read(e)).collect();
    let start = end_of_day(since) - chrono::Duration::days(1);
    let mut wanted = Vec::new();
    for (i, (_, events)) in journeys.iter().enumerate() {
        for t in historical_times(events).into_iter().filter(|t| *t > start) {
            wanted.push((i, t));
        }
    }
    let at: Vec<(&[journey::event::Event], chrono::DateTime<chrono::Utc>)> =
        wanted.iter().map(|(i, t)| (journeys[*i].1.as_slice(), *t)).collect();
    let twins = TwinHead::embed_rows(&model, &at, &|_| None)?;
    let rows: Vec<HeadRow<'_>> = wanted
        .iter()
        .zip(twins)
        .map(|((i, t), twin)| HeadRow {
            patient: &journeys[*i].0,
            events: &journeys[*i].1,
            record: &records[*i],
            index_time: *t,
            outcomes: records[*i].outcomes_at(t.date_naive()),
            twin,
        })
        .collect();
    let (new, outcomes) = head.recalibrate(&rows);
    let mut proposal = Proposal { since, rows: rows.len(), outcomes, version: None, from };
    if proposal.outcomes.iter().any(|o| o.line.is_some()) {
        let reason = format!("proposed: {}", proposal.text());
        proposal.version = Some(new.propose(&path, registry, by, &reason).await?);
    }
    Ok(proposal)
}
