//! What each encoder reads of a journey at an index date: the stages
//! `Event` -> [`PatientInputs`] (event tokens, recent notes' mean vector, imaging and
//! omics panels) -> tensors.
//!
//! A note enters the event stream as one token: its code (the note type), and, for
//! the [`RECENT_NOTES`] most recent notes, its MiniLM vector projected into the
//! token ([`PatientInputs::note_tokens`]). The same recent vectors' mean is also the
//! fusion's notes token, so leaving notes out (the ablation) removes both. Imaging and
//! omics stay out of the stream: each has its own encoder and fusion token.
//!
//! The latest values ([`FeatureSpec::latest_values`]) are read from the event tokens
//! themselves (so a time crop's are the crop's): per code, the latest value decile
//! and the change since the code's value before it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cohort::ClinicalRecord;
use crate::encode::note::NOTE_DIM;
use crate::encode::vocab::{code_key, token_value, EventToken, VocabConfig, Vocabulary, BIN_FIRST};
use journey::event::{Event, Modality};

/// How many of the most recent notes carry their MiniLM vector (in the event stream
/// and averaged into the fusion's notes token). Few, because each costs a MiniLM
/// pass (about 25-100 ms) the first time its text is seen; older notes still enter
/// the stream, as their code only.
pub const RECENT_NOTES: usize = 3;

/// Whether an event belongs to the event stream (not to its own encoder).
pub fn in_event_stream(event: &Event) -> bool {
    !matches!(event.modality, Modality::Imaging | Modality::Omics)
}

/// The note texts [`FeatureSpec::inputs`] reads of a time-ordered journey at `until`
/// (its last event when `None`): the most recent [`RECENT_NOTES`], so a caller embeds
/// those and no others (each new text costs a MiniLM pass). The one note selection:
/// training, embedding, evaluation and the cohort all call it.
pub fn note_texts(events: &[Event], until: Option<DateTime<Utc>>) -> Vec<&str> {
    let end = match until {
        Some(t) => events.partition_point(|e| e.time <= t),
        None => events.len(),
    };
    events[..end]
        .iter()
        .rev()
        .filter(|e| e.modality == Modality::Note)
        .filter_map(|e| e.text.as_deref())
        .take(RECENT_NOTES)
        .collect()
}

/// Every note text of a time-ordered journey up to `until` (all when `None`): what a
/// job embeds when it reads a journey at several dates (training's crops at decision
/// points, the evaluation's cut and the heads' snapshots), each crop then reading
/// [`note_texts`] at its own date. Affordable because a note costs only its sentences
/// not seen before (`encode::note`).
pub fn notes_through(events: &[Event], until: Option<DateTime<Utc>>) -> Vec<&str> {
    let end = match until {
        Some(t) => events.partition_point(|e| e.time <= t),
        None => events.len(),
    };
    events[..end].iter().filter(|e| e.modality == Modality::Note).filter_map(|e| e.text.as_deref()).collect()
}

/// A panel of numeric codes of one modality (imaging or omics) and their cohort
/// mean and standard deviation. Features per code: the latest value, standardised,
/// and a 1/0 "measured" flag (an unmeasured code is 0, 0: the flag tells it apart
/// from a value at the mean).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Panel {
    pub modality: Modality,
    pub codes: Vec<String>,
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Panel {
    pub fn build<'a>(modality: Modality, journeys: impl IntoIterator<Item = &'a [Event]>) -> Self {
        let mut values: HashMap<String, Vec<f64>> = HashMap::new();
        for events in journeys {
            for e in events.iter().filter(|e| e.modality == modality) {
                if let Some(value) = token_value(e) {
                    values.entry(code_key(e)).or_default().push(value);
                }
            }
        }
        let mut codes: Vec<String> = values.keys().cloned().collect();
        codes.sort();
        let (mut mean, mut std) = (vec![], vec![]);
        for code in &codes {
            let v = &values[code];
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
            mean.push(m);
            std.push(var.sqrt().max(1e-6));
        }
        Panel { modality, codes, mean, std }
    }

    /// Feature width (at least 2, so a cohort without the modality still has a shape).
    pub fn width(&self) -> usize {
        (2 * self.codes.len()).max(2)
    }

    /// The features of `events` (already cut at the index date), or `None` when
    /// none of the panel's codes was measured: the modality is absent.
    pub fn features(&self, events: &[Event]) -> Option<Vec<f32>> {
        let mut out = vec![0f32; self.width()];
        let mut any = false;
        for e in events.iter().filter(|e| e.modality == self.modality) {
            let Some(value) = token_value(e) else {
                continue;
            };
            let Ok(i) = self.codes.binary_search(&code_key(e)) else {
                continue;
            };
            // Events are in time order: a later value overwrites an earlier one.
            out[2 * i] = ((value - self.mean[i]) / self.std[i]) as f32;
            out[2 * i + 1] = 1.0;
            any = true;
        }
        any.then_some(out)
    }
}

/// Everything the twin needs to turn a journey into inputs, built from the cohort.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub vocab: Vocabulary,
    pub imaging: Panel,
    pub omics: Panel,
    pub max_events: usize,
    /// Whether the twin reads the latest values as a fused token; a spec written
    /// before they existed does not.
    #[serde(default)]
    pub latest_values: bool,
    /// Whether the latest-values token also carries the trajectory under the current
    /// treatment ([`trajectory`]); a spec written before it existed does not.
    #[serde(default)]
    pub trajectory: bool,
    /// How much each sentence counts in a note's vector, fitted on the notes the twin
    /// was trained on (`encode::note::SentenceWeights`); `None` for a twin trained
    /// without notes or before the weights existed (its notes are plain means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_weights: Option<crate::encode::note::SentenceWeights>,
    /// The scale of the clinical-history block appended to the fused vector
    /// ([`super::history_block`]); `None` for a twin trained before the block existed
    /// (its vectors are the fused vector alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<super::history_block::HistoryScale>,
    /// The prognosis part appended after the history block
    /// ([`super::prognosis_part`]); `None` for a twin trained before it existed or
    /// without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prognosis: Option<super::prognosis_part::PrognosisPart>,
    /// The clinical strata appended last ([`super::strata`]); `None` for a twin
    /// trained before they existed or without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strata: Option<super::strata::Strata>,
}

/// Width of [`trajectory`].
pub const TRAJECTORY_WIDTH: usize = 8;

/// Where the patient stands under the current treatment, as of `at`: the course of
/// disease a clinician reads before deciding, and what a snapshot of codes and
/// deciles does not carry. In order: on a DMARD, years since the current DMARD
/// started, DAS28 change since then, its slope per year over the readings since
/// then, a 1 when those two were measured, log CRP change since then, DMARDs tried
/// (/5), on methotrexate. Unknown parts are 0 (with the measured flag for DAS28).
pub fn trajectory(record: &ClinicalRecord, at: DateTime<Utc>) -> Vec<f32> {
    let date = at.date_naive();
    let current =
        record.courses.iter().filter(|c| c.is_dmard() && c.start <= at && c.ongoing_on(date)).max_by_key(|c| c.start);
    let mut out = vec![0f32; TRAJECTORY_WIDTH];
    out[6] = record.dmards_tried(at) as f32 / 5.0;
    out[7] = if record.methotrexate_since(at).is_some() { 1.0 } else { 0.0 };
    let Some(course) = current else { return out };
    out[0] = 1.0;
    out[1] = ((at - course.start).num_days() as f32 / 365.25).min(10.0);
    let before = |series: &[(DateTime<Utc>, f64)]| series.iter().rev().find(|(t, _)| *t <= course.start).map(|(_, v)| *v);
    let latest = |series: &[(DateTime<Utc>, f64)]| series.iter().rev().find(|(t, _)| *t <= at).map(|(_, v)| *v);
    let das: Vec<(DateTime<Utc>, f64)> = record.das28.iter().map(|r| (r.time, r.score)).collect();
    if let (Some(start), Some(now)) = (before(&das), latest(&das)) {
        let since: Vec<(f64, f64)> = das
            .iter()
            .filter(|(t, _)| *t >= course.start && *t <= at)
            .map(|(t, v)| ((*t - course.start).num_days() as f64 / 365.25, *v))
            .collect();
        let slope = crate::cohort::history::slope(&since).unwrap_or(0.0);
        out[2] = (now - start) as f32 / 3.0;
        out[3] = (slope / 10.0).clamp(-1.0, 1.0) as f32;
        out[4] = 1.0;
    }
    let crp: Vec<(DateTime<Utc>, f64)> = record.crp.iter().map(|v| (v.time, v.value.max(0.0).ln_1p())).collect();
    if let (Some(start), Some(now)) = (before(&crp), latest(&crp)) {
        out[5] = (now - start) as f32;
    }
    out
}

/// One patient's inputs at an index date.
#[derive(Debug, Clone, Default)]
pub struct PatientInputs {
    pub tokens: Vec<EventToken>,
    /// Note vectors at their token's position in `tokens` (recent notes only).
    pub note_tokens: Vec<(usize, Vec<f32>)>,
    /// Mean of the most recent notes' vectors (unit length); `None` without notes
    /// or without note vectors.
    pub notes: Option<Vec<f32>>,
    pub imaging: Option<Vec<f32>>,
    pub omics: Option<Vec<f32>>,
    /// Where the patient stands under the current treatment ([`trajectory`]), when
    /// the spec reads it.
    pub trajectory: Option<Vec<f32>>,
    /// The clinical-history block ([`super::history_block`]), when the spec has a scale.
    pub history: Option<Vec<f32>>,
    /// The prognosis part ([`super::prognosis_part`]), when the spec has one.
    pub prognosis: Option<Vec<f32>>,
    /// The clinical strata ([`super::strata`]), when the spec reads them.
    pub strata: Option<Vec<f32>>,
}

impl FeatureSpec {
    pub fn build(config: VocabConfig, journeys: &[&[Event]], max_events: usize) -> Self {
        let streams: Vec<Vec<Event>> =
            journeys.iter().map(|events| events.iter().filter(|e| in_event_stream(e)).cloned().collect()).collect();
        let vocab = Vocabulary::build(config, streams.iter().map(Vec::as_slice));
        FeatureSpec {
            vocab,
            imaging: Panel::build(Modality::Imaging, journeys.iter().copied()),
            omics: Panel::build(Modality::Omics, journeys.iter().copied()),
            max_events,
            latest_values: true,
            trajectory: true,
            note_weights: None,
            history: None,
            prognosis: None,
            strata: None,
        }
    }

    /// Width of a twin of this spec from a fusion of `twin_size`: the fused vector,
    /// then the history block, the prognosis part and the strata when the spec has them.
    pub fn twin_width(&self, twin_size: usize) -> usize {
        twin_size
            + self.history.as_ref().map_or(0, |h| h.width())
            + self.prognosis.as_ref().map_or(0, |p| p.width())
            + self.strata.as_ref().map_or(0, |s| s.width())
    }

    /// Width of the latest-values token: three per vocabulary entry, and the
    /// trajectory's when the spec reads it.
    pub fn latest_width(&self) -> usize {
        3 * self.vocab.len() + if self.trajectory { TRAJECTORY_WIDTH } else { 0 }
    }

    /// The fusion's latest-values input of one patient's inputs: the latest values of
    /// its tokens, then (when the spec reads it) its trajectory. `None` when neither
    /// says anything: the modality is absent.
    pub fn latest(&self, inputs: &PatientInputs) -> Option<Vec<f32>> {
        let values = self.latest_values(&inputs.tokens);
        if !self.trajectory {
            return values;
        }
        let trajectory = inputs.trajectory.as_ref()?;
        let mut out = values.unwrap_or_else(|| vec![0f32; self.latest_width()]);
        let start = 3 * self.vocab.len();
        out[start..start + TRAJECTORY_WIDTH].copy_from_slice(trajectory);
        Some(out)
    }

    /// The latest values of a token sequence: per code id `c`, at `3c` its latest
    /// value decile centred to -0.5..0.5, at `3c + 1` a 1 "measured" flag, at `3c + 2`
    /// the change of decile since the code's value before (in the same units; 0 for
    /// a first value). An unmeasured code is 0, 0, 0. `None` when no token carries a
    /// value, or when the spec does not use latest values: the modality is absent.
    pub fn latest_values(&self, tokens: &[EventToken]) -> Option<Vec<f32>> {
        if !self.latest_values {
            return None;
        }
        let scale = (self.vocab.config.n_bins as f32 - 1.0).max(1.0);
        let mut out = vec![0f32; self.latest_width()];
        let mut any = false;
        // The per-code slots; the trajectory's (after them) are filled by `latest`.
        let codes = 3 * self.vocab.len();
        for t in tokens.iter().filter(|t| t.value_bin >= BIN_FIRST) {
            let at = 3 * t.code as usize;
            let Some(slot) = out[..codes].get_mut(at..at + 3) else { continue };
            let decile = (t.value_bin - BIN_FIRST) as f32 / scale - 0.5;
            // Tokens are in time order: a later value overwrites an earlier one.
            slot[2] = if slot[1] > 0.0 { decile - slot[0] } else { 0.0 };
            slot[0] = decile;
            slot[1] = 1.0;
            any = true;
        }
        any.then_some(out)
    }

    /// The inputs of a time-ordered journey at `until` (its last event when `None`).
    /// `note_vector` gives a note text's vector when notes are used.
    pub fn inputs(
        &self,
        events: &[Event],
        until: Option<DateTime<Utc>>,
        note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
    ) -> PatientInputs {
        let end = match until {
            Some(t) => events.partition_point(|e| e.time <= t),
            None => events.len(),
        };
        let window = &events[..end];
        let stream: Vec<Event> = window.iter().filter(|e| in_event_stream(e)).cloned().collect();
        let tokens = self.vocab.tokenize(&stream, None, self.max_events);
        // `tokenize` keeps the last `max_events` of the stream.
        let first_kept = stream.len() - tokens.len();
        let mut note_tokens = Vec::new();
        let mut recent = Vec::new();
        for (i, event) in stream.iter().enumerate().rev().filter(|(_, e)| e.modality == Modality::Note) {
            if recent.len() == RECENT_NOTES {
                break;
            }
            let Some(text) = event.text.as_deref() else { continue };
            if let Some(vector) = note_vector(text) {
                if i >= first_kept {
                    note_tokens.push((i - first_kept, vector.clone()));
                }
                recent.push(vector);
            }
        }
        note_tokens.reverse();
        let notes = (!recent.is_empty()).then(|| {
            let mut mean = vec![0f32; NOTE_DIM];
            for v in &recent {
                for (m, x) in mean.iter_mut().zip(v) {
                    *m += x / recent.len() as f32;
                }
            }
            mean
        });
        // The trajectory, the history block and the prognosis part are read only where
        // the spec uses them (one record read per call).
        let wants_trajectory = self.latest_values && self.trajectory;
        let record = (wants_trajectory || self.history.is_some() || self.prognosis.is_some())
            .then(|| ClinicalRecord::read(window));
        let at = until.or_else(|| window.last().map(|e| e.time)).unwrap_or_else(Utc::now);
        let trajectory = record.as_ref().filter(|_| wants_trajectory).map(|r| trajectory(r, at));
        let history = record.as_ref().zip(self.history.as_ref()).map(|(r, scale)| scale.block(r, window, at));
        let prognosis = record.as_ref().zip(self.prognosis.as_ref()).map(|(r, part)| part.part(r, window, at));
        let strata = self.strata.as_ref().map(|s| s.part(window, at));
        PatientInputs {
            tokens,
            note_tokens,
            notes,
            imaging: self.imaging.features(window),
            omics: self.omics.features(window),
            trajectory,
            history,
            prognosis,
            strata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::event::{Code, PatientId, Phase, Quantity, Source};
    use chrono::TimeZone;

    fn event(day: i64, modality: Modality, code: &str, value: Option<f64>) -> Event {
        Event {
            patient: PatientId::new("p").unwrap(),
            time: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day),
            code: Code { system: "s".into(), code: code.into(), display: None },
            value: value.map(|value| Quantity { value, unit: None }),
            text: (modality == Modality::Note).then(|| format!("note {day}")),
            modality,
            phase: Phase::Point,
            source: Source::default(),
            concept: None,
        }
    }

    /// The latest values follow the last value of each code, with the change since
    /// the one before; tokens without a value leave them alone.
    #[test]
    fn latest_values_track_the_last_value_and_its_change() {
        // No journeys: only the 4 special tokens, whose ids stand in for codes here.
        let spec = FeatureSpec::build(VocabConfig { min_count: 1, n_bins: 10 }, &[], 8);
        let at = |code: u32, bin: u32| EventToken { code, value_bin: bin, gap: 1 };
        let no_value = EventToken { code: 2, value_bin: 0, gap: 1 };
        assert_eq!(spec.latest_values(&[no_value]), None);
        // Code 1: deciles 0 then 9 then 3 (bins 2, 11, 5); code 3: decile 9 once.
        let tokens = [at(1, 2), at(1, 11), no_value, at(3, 11), at(1, 5)];
        let latest = spec.latest_values(&tokens).unwrap();
        assert_eq!(latest.len(), spec.latest_width());
        let third = 3.0 / 9.0 - 0.5;
        assert_eq!(&latest[3..6], &[third, 1.0, third - 0.5], "latest decile 3, down from 9");
        assert_eq!(&latest[9..12], &[0.5, 1.0, 0.0], "decile 9, first value");
        assert_eq!(&latest[6..9], &[0.0, 0.0, 0.0], "code 2 never had a value");
        let off = FeatureSpec { latest_values: false, ..spec };
        assert_eq!(off.latest_values(&tokens), None);
    }

    #[test]
    fn inputs_at_an_index_date() {
        let a = vec![
            event(0, Modality::Lab, "crp", Some(10.0)),
            event(1, Modality::Imaging, "svdh", Some(4.0)),
            event(2, Modality::Note, "note", None),
            event(3, Modality::Imaging, "svdh", Some(8.0)),
            event(4, Modality::Omics, "ifn", Some(1.0)),
        ];
        let b = vec![event(0, Modality::Lab, "crp", Some(20.0))];
        let spec = FeatureSpec::build(VocabConfig { min_count: 1, n_bins: 10 }, &[&a, &b], 16);
        assert_eq!(spec.vocab.len(), 6, "4 special tokens, crp and the note's code: no imaging or omics codes");
        let vec_of = |text: &str| (text == "note 2").then(|| vec![1.0f32; NOTE_DIM]);
        let at_day_2 = spec.inputs(&a, Some(a[2].time), &vec_of);
        assert_eq!(at_day_2.tokens.len(), 2, "crp, then the note as one token");
        assert_eq!(at_day_2.note_tokens.len(), 1);
        assert_eq!(at_day_2.note_tokens[0].0, 1, "the note vector sits at the note's position");
        // svdh mean 6, sd 2: the value 4 is -1 sd.
        assert_eq!(at_day_2.imaging, Some(vec![-1.0, 1.0]));
        assert_eq!(at_day_2.omics, None);
        assert_eq!(at_day_2.notes.as_ref().map(|n| n[0]), Some(1.0));
        let at_end = spec.inputs(&a, None, &vec_of);
        assert_eq!(at_end.imaging, Some(vec![1.0, 1.0]));
        assert!(at_end.omics.is_some());
        // Latest values: crp is measured once in each journey; the note has no value.
        let crp = spec.vocab.id(&code_key(&a[0])) as usize;
        let latest = spec.latest_values(&at_day_2.tokens).expect("crp has a value");
        assert_eq!(latest.len(), 18 + TRAJECTORY_WIDTH);
        assert_eq!(&latest[3 * crp + 1..3 * crp + 3], &[1.0, 0.0], "measured, no change yet");
        assert_eq!(latest.iter().filter(|x| **x != 0.0).count(), 2, "crp's decile (not the median) and flag only");
        let plain = spec.inputs(&b, None, &|_| None);
        assert!(plain.notes.is_none() && plain.imaging.is_none() && plain.omics.is_none());
        assert!(plain.note_tokens.is_empty());
        assert_eq!(plain.tokens.len(), 1);
    }

    /// On methotrexate since day 10, DAS28 5.0 before and 3.0 at day 190: the
    /// trajectory says so as of day 200, and nothing after day 200 reaches it.
    #[test]
    fn the_trajectory_reads_the_course_under_the_current_treatment() {
        use crate::cohort::testutil::{das28, drug, Journey};
        let j = Journey::new(vec![das28(0, 5.0), drug(10, None, "6851"), das28(100, 4.0), das28(190, 3.0), das28(400, 6.0)]);
        let record = ClinicalRecord::read(&j.events);
        let at = j.events[0].time + chrono::Duration::days(200);
        let t = trajectory(&record, at);
        assert_eq!(t.len(), TRAJECTORY_WIDTH);
        assert_eq!(t[0], 1.0, "on a DMARD");
        assert!((t[1] - 190.0 / 365.25).abs() < 1e-6, "years since the start: {}", t[1]);
        assert!((t[2] - (3.0 - 5.0) / 3.0).abs() < 1e-6, "DAS28 change since the start: {}", t[2]);
        assert!(t[3] < 0.0 && t[4] == 1.0, "falling, measured: {t:?}");
        assert_eq!((t[6], t[7]), (0.2, 1.0), "one DMARD tried, methotrexate");
        let before = trajectory(&record, j.events[0].time + chrono::Duration::days(5));
        assert_eq!(&before[..6], &[0.0; 6], "no treatment yet");
    }
}
