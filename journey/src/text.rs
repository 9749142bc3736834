//! Journeys for people at a terminal: the patient table (`rdt patients`), a journey
//! event by event (`rdt journey`), and what the store holds with one journey worth
//! showing, its first events in brief (`rdt demo`). JSON
//! output is the types' own `Serialize`; these are the readable forms.

use std::fmt::Write as _;

use crate::event::Event;
use crate::event::Modality;
use crate::store::{Journey, PatientSummary, StoreCounts};

/// One row per patient: id, name, birth date, sex, events, first..last event.
pub fn patients_table(patients: &[PatientSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<38} {:<28} {:<10} {:<7} {:>7}  first..last event", "id", "name", "born", "sex", "events");
    for p in patients {
        let span = match (p.first_event, p.last_event) {
            (Some(a), Some(b)) => format!("{}..{}", a.date_naive(), b.date_naive()),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<38} {:<28} {:<10} {:<7} {:>7}  {span}",
            p.patient.id.as_str(),
            p.patient.name.as_deref().unwrap_or("-"),
            p.patient.birth_date.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            p.patient.sex.as_deref().unwrap_or("-"),
            p.events,
        );
    }
    let _ = writeln!(out, "{} patients", patients.len());
    out
}

/// What the store at `database` holds (`rdt demo`): patients, events, events per modality.
pub fn store_counts(database: &impl std::fmt::Display, counts: &StoreCounts) -> String {
    let mut out = format!("\n{database} holds {} patients and {} events:\n", counts.patients, counts.events);
    for (modality, n) in &counts.events_by_modality {
        let _ = writeln!(out, "  {:<18} {n:>10}", modality.as_str());
    }
    out
}

/// A rheumatology journey worth showing (`rdt demo`): one with disease activity
/// scores and the most notes, else the first patient.
pub fn showcase(patients: &[PatientSummary]) -> Option<&PatientSummary> {
    patients
        .iter()
        .filter(|p| p.events_by_modality.contains_key(&Modality::DiseaseActivity))
        .max_by_key(|p| p.events_by_modality.get(&Modality::Note).copied().unwrap_or(0))
        .or(patients.first())
}

impl Journey {
    /// The patient and its first `n` events in brief, then the commands to see more
    /// (`rdt demo`).
    pub fn showcase_text(&self, n: usize) -> String {
        let p = &self.patient;
        let name = p.name.as_deref().unwrap_or("no name");
        let len = self.events.len();
        let brief = self.brief(n);
        format!("\nJourney of {} ({name}), {len} events; the first {n}:\n{brief}\nAlso: rdt journey {} | rdt patients | rdt audit verify\n", p.id, p.id)
    }

    /// The patient, then one line per event: time, modality, phase, code, display and
    /// value (or the first line of its text).
    pub fn text(&self) -> String {
        let p = &self.patient;
        let mut out = format!(
            "{} {} (born {}, {}): {} events\n",
            p.id,
            p.name.as_deref().unwrap_or(""),
            p.birth_date.map(|d| d.to_string()).unwrap_or_else(|| "?".into()),
            p.sex.as_deref().unwrap_or("?"),
            self.events.len()
        );
        for e in &self.events {
            let value = match (&e.value, &e.text) {
                (Some(v), _) => {
                    format!(" = {}{}", v.value, v.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default())
                }
                (None, Some(t)) => format!(" : {}", first_line(t, 80)),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                out,
                "{}  {:<16} {:<5} {}|{} {}{value}",
                e.time.format("%Y-%m-%d %H:%M"),
                e.modality.as_str(),
                e.phase.as_str(),
                short_system(&e.code.system),
                e.code.code,
                e.code.display.as_deref().unwrap_or(""),
            );
        }
        out
    }

    /// The first `n` events in brief (date, modality, phase, display, value), indented.
    pub fn brief(&self, n: usize) -> String {
        self.events.iter().take(n).map(brief_line).collect()
    }
}

fn brief_line(e: &Event) -> String {
    let value = e.value.as_ref().map(|v| format!(" = {}", v.value)).unwrap_or_default();
    let display = e.code.display.as_deref().unwrap_or(&e.code.code);
    format!("  {}  {:<16} {:<5} {display}{value}\n", e.time.format("%Y-%m-%d"), e.modality.as_str(), e.phase.as_str())
}

/// `http://loinc.org` -> `loinc.org`: the table stays readable, the JSON keeps it whole.
fn short_system(system: &str) -> &str {
    system.trim_start_matches("http://").trim_start_matches("https://")
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::event::PatientId;
    use crate::store::PatientRecord;

    fn summary(id: &str, modalities: &[(Modality, u64)]) -> PatientSummary {
        PatientSummary {
            patient: PatientRecord {
                id: PatientId::new(id).unwrap(),
                source: Default::default(),
                name: None,
                birth_date: None,
                sex: None,
                deceased_at: None,
                source_file: None,
            },
            events: modalities.iter().map(|(_, n)| n).sum(),
            events_by_modality: modalities.iter().copied().collect(),
            first_event: None,
            last_event: None,
        }
    }

    #[test]
    fn the_showcase_has_disease_activity_and_the_most_notes() {
        let patients = [
            summary("a", &[(Modality::Lab, 9)]),
            summary("b", &[(Modality::DiseaseActivity, 2), (Modality::Note, 1)]),
            summary("c", &[(Modality::DiseaseActivity, 2), (Modality::Note, 5)]),
        ];
        assert_eq!(showcase(&patients).unwrap().patient.id.as_str(), "c");
        assert_eq!(showcase(&patients[..1]).unwrap().patient.id.as_str(), "a");
        assert!(showcase(&[]).is_none());
    }

    #[test]
    fn counts_and_the_showcase_read_as_the_demo_prints_them() {
        let counts = StoreCounts { patients: 2, events: 7, events_by_modality: BTreeMap::from([(Modality::Lab, 7)]) };
        assert_eq!(store_counts(&"db", &counts), format!("\ndb holds 2 patients and 7 events:\n  {:<18} {:>10}\n", "lab", 7));
        let journey = Journey { patient: summary("p1", &[]).patient, events: Vec::new() };
        assert_eq!(
            journey.showcase_text(25),
            "\nJourney of p1 (no name), 0 events; the first 25:\n\nAlso: rdt journey p1 | rdt patients | rdt audit verify\n"
        );
    }
}
