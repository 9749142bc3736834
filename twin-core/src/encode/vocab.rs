//! The vocabulary: how a journey's events become tokens the event encoder reads.
//!
//! Stages: [`Event`] -> [`EventToken`] {code, value bin, gap} -> tensors.
//! - **Code**: `system|code`, with `#start`/`#stop` for a course's two ends (a
//!   methotrexate start and stop mean opposite things). Codes seen fewer than
//!   [`VocabConfig::min_count`] times in the cohort share the `UNK` token.
//! - **Value**: the decile of the value among that code's values in the cohort
//!   (a CRP of 40 mg/L and a DAS28 of 5.1 are both "high" for their code, whatever
//!   the unit). Deciles are per code because units differ between codes.
//! - **Gap**: the time since the previous event, bucketed (same day, a week, a
//!   month, ...), so the model sees pace without absolute dates.
//!
//! Built once from the store's journeys ([`Vocabulary::build`]), saved as JSON beside
//! the checkpoint it belongs to, and versioned with it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use journey::event::{Event, Phase};

/// Token ids with a fixed meaning, before the cohort's codes.
pub const PAD: u32 = 0;
/// The summary position the encoder's output is read from.
pub const CLS: u32 = 1;
/// A masked code, during pretraining.
pub const MASK: u32 = 2;
/// A code too rare to have its own token.
pub const UNK: u32 = 3;
const SPECIAL: [&str; 4] = ["[PAD]", "[CLS]", "[MASK]", "[UNK]"];

/// Value-bin ids: 0 = padding or no value, 1 = masked, 2.. = deciles.
pub const BIN_NONE: u32 = 0;
pub const BIN_MASK: u32 = 1;
pub const BIN_FIRST: u32 = 2;

/// Gap-bucket upper edges in days: same day, < 1 week, < 1 month, < 3 months,
/// < 6 months, < 1 year, longer. Bucket 0 is padding, 1 the first event.
const GAP_EDGES_DAYS: [f64; 6] = [1.0, 7.0, 30.0, 91.0, 182.0, 365.0];
/// Number of gap buckets including padding and "first event".
pub const N_GAPS: usize = GAP_EDGES_DAYS.len() + 3;

/// How the vocabulary is built.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VocabConfig {
    /// Fewer occurrences than this in the cohort: the code becomes `UNK`.
    pub min_count: usize,
    /// Value bins per code (10 = deciles).
    pub n_bins: usize,
}

impl Default for VocabConfig {
    fn default() -> Self {
        VocabConfig { min_count: 5, n_bins: 10 }
    }
}

/// One event as the encoder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventToken {
    pub code: u32,
    pub value_bin: u32,
    pub gap: u32,
}

/// The value an encoder reads of an event: a concept's value in its canonical unit
/// (none in a unit that does not convert: never a feature), else the value as recorded.
pub fn token_value(event: &Event) -> Option<f64> {
    match event.concept() {
        Some(_) => event.canonical_value(),
        None => event.value.as_ref().map(|q| q.value).filter(|v| v.is_finite()),
    }
}

/// Codes, per-code value edges and the config they were built with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vocabulary {
    pub config: VocabConfig,
    /// Token strings; the index is the id. Starts with the special tokens.
    tokens: Vec<String>,
    /// Per code id: the `n_bins - 1` inner edges of its value distribution.
    edges: HashMap<u32, Vec<f64>>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

/// The token string of an event's code: its concept's id when the terminology reads
/// it as one (`concept|crp`, so LOINC, RDT's code and a hospital's mapped code are one
/// token), else `system|code` as recorded.
pub fn code_key(event: &Event) -> String {
    let base = match event.concept() {
        Some(concept) => format!("concept|{}", concept.id()),
        None => format!("{}|{}", event.code.system, event.code.code),
    };
    match event.phase {
        Phase::Point => base,
        Phase::Start => base + "#start",
        Phase::Stop => base + "#stop",
    }
}

impl Vocabulary {
    /// Counts codes and collects values over `journeys` (each a time-ordered slice
    /// of events), keeping codes seen at least `min_count` times.
    pub fn build<'a>(config: VocabConfig, journeys: impl IntoIterator<Item = &'a [Event]>) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut values: HashMap<String, Vec<f64>> = HashMap::new();
        for events in journeys {
            for event in events {
                let key = code_key(event);
                if let Some(value) = token_value(event) {
                    values.entry(key.clone()).or_default().push(value);
                }
                *counts.entry(key).or_default() += 1;
            }
        }
        let mut kept: Vec<(String, usize)> = counts.into_iter().filter(|(_, n)| *n >= config.min_count).collect();
        // Most frequent first, ties by name: the same cohort always gives the same ids.
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut tokens: Vec<String> = SPECIAL.iter().map(|s| s.to_string()).collect();
        let mut edges = HashMap::new();
        for (key, _) in kept {
            let id = tokens.len() as u32;
            if let Some(mut v) = values.remove(&key) {
                v.sort_by(f64::total_cmp);
                let inner: Vec<f64> =
                    (1..config.n_bins).map(|i| v[(i * v.len() / config.n_bins).min(v.len() - 1)]).collect();
                edges.insert(id, inner);
            }
            tokens.push(key);
        }
        let mut vocab = Vocabulary { config, tokens, edges, index: HashMap::new() };
        vocab.reindex();
        vocab
    }

    /// Rebuilds the lookup after deserialising.
    pub fn reindex(&mut self) {
        self.index = self.tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    }

    pub fn from_json(text: &str) -> serde_json::Result<Self> {
        let mut vocab: Vocabulary = serde_json::from_str(text)?;
        vocab.reindex();
        Ok(vocab)
    }

    /// Number of code tokens, special ones included.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.len() == SPECIAL.len()
    }

    /// Number of value-bin ids (none, mask, then one per bin).
    pub fn n_value_bins(&self) -> usize {
        self.config.n_bins + BIN_FIRST as usize
    }

    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    pub fn id(&self, key: &str) -> u32 {
        self.index.get(key).copied().unwrap_or(UNK)
    }

    /// The value bin of `value` for code `id` (`BIN_NONE` when the code has no values).
    pub fn value_bin(&self, id: u32, value: f64) -> u32 {
        match self.edges.get(&id) {
            Some(edges) if value.is_finite() => BIN_FIRST + edges.iter().filter(|e| **e <= value).count() as u32,
            _ => BIN_NONE,
        }
    }

    /// Tokens of the events up to and including `until` (all when `None`), keeping the
    /// last `max_len` of them: the most recent history matters most at an index date.
    pub fn tokenize(&self, events: &[Event], until: Option<DateTime<Utc>>, max_len: usize) -> Vec<EventToken> {
        let end = match until {
            Some(t) => events.partition_point(|e| e.time <= t),
            None => events.len(),
        };
        let start = end.saturating_sub(max_len);
        let mut previous = if start > 0 { Some(events[start - 1].time) } else { None };
        let mut out = Vec::with_capacity(end - start);
        for event in &events[start..end] {
            let code = self.id(&code_key(event));
            let value_bin = token_value(event).map_or(BIN_NONE, |value| self.value_bin(code, value));
            let gap = gap_bucket(previous, event.time);
            previous = Some(event.time);
            out.push(EventToken { code, value_bin, gap });
        }
        out
    }
}

/// The gap bucket between two times (1 for the first event, `previous = None`).
pub fn gap_bucket(previous: Option<DateTime<Utc>>, time: DateTime<Utc>) -> u32 {
    let Some(previous) = previous else { return 1 };
    let days = (time - previous).num_seconds().max(0) as f64 / 86_400.0;
    2 + GAP_EDGES_DAYS.iter().filter(|edge| days >= **edge).count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::event::{Code, Modality, PatientId, Quantity, Source};
    use chrono::TimeZone;

    fn event(day: i64, code: &str, value: Option<f64>, phase: Phase) -> Event {
        Event {
            patient: PatientId::new("p1").unwrap(),
            time: Utc.with_ymd_and_hms(2020, 1, 1, 9, 0, 0).unwrap() + chrono::Duration::days(day),
            code: Code { system: "urn:test:code".into(), code: code.into(), display: None },
            value: value.map(|v| Quantity { value: v, unit: None }),
            text: None,
            modality: Modality::Lab,
            phase,
            source: Source::default(),
            concept: None,
        }
    }

    #[test]
    fn codes_bins_and_gaps() {
        let mut events: Vec<Event> = (0..20).map(|i| event(i * 10, "crp", Some(i as f64), Phase::Point)).collect();
        events.push(event(400, "mtx", None, Phase::Start));
        events.push(event(401, "rare", None, Phase::Point));
        let vocab = Vocabulary::build(VocabConfig { min_count: 1, n_bins: 10 }, [events.as_slice()]);
        let vocab = Vocabulary::from_json(&serde_json::to_string(&vocab).unwrap()).unwrap();
        // Most frequent code first after the 4 special tokens.
        assert_eq!(vocab.token(4), Some("urn:test:code|crp"));
        assert_eq!(vocab.id("urn:test:code|mtx#start"), 5);
        let crp = vocab.id("urn:test:code|crp");
        assert_eq!(vocab.value_bin(crp, -1.0), BIN_FIRST);
        assert_eq!(vocab.value_bin(crp, 100.0), BIN_FIRST + 9);
        assert_eq!(vocab.value_bin(crp, 10.0), BIN_FIRST + 5);

        let tokens = vocab.tokenize(&events, None, 3);
        assert_eq!(tokens.len(), 3);
        // Day 190 -> 400 is > 6 months (bucket 2 + 5), 400 -> 401 is one day (2 + 1).
        assert_eq!(tokens[1], EventToken { code: 5, value_bin: BIN_NONE, gap: 7 });
        assert_eq!(tokens[2].gap, 3);

        let strict = Vocabulary::build(VocabConfig { min_count: 2, n_bins: 10 }, [events.as_slice()]);
        assert_eq!(strict.id("urn:test:code|rare"), UNK);
        let cut = strict.tokenize(&events, Some(events[4].time), 100);
        assert_eq!(cut.len(), 5);
        assert_eq!(cut[0].gap, 1);
    }

    /// A concept is one token whatever code and unit recorded it, with its value in the
    /// concept's unit: CRP by LOINC in mg/dL and by RDT's code in mg/L bin alike.
    #[test]
    fn concepts_are_one_token_in_one_unit() {
        let mut loinc = event(0, "x", None, Phase::Point);
        loinc.code = Code { system: "http://loinc.org".into(), code: "1988-5".into(), display: None };
        loinc.value = Some(Quantity { value: 1.2, unit: Some("mg/dL".into()) });
        let mut rdt = loinc.clone();
        rdt.code = Code { system: "urn:rdt:code".into(), code: "crp".into(), display: None };
        rdt.value = Some(Quantity { value: 12.0, unit: Some("mg/L".into()) });
        assert_eq!(code_key(&loinc), "concept|crp");
        assert_eq!(code_key(&rdt), code_key(&loinc));
        assert_eq!(token_value(&loinc), token_value(&rdt));
        let mut odd = loinc.clone();
        odd.value = Some(Quantity { value: 1.2, unit: Some("nmol/L".into()) });
        assert_eq!(token_value(&odd), None, "an unconvertible unit is never a feature");
    }
}
