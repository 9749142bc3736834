//! Journeys for people at a terminal: the patient table (`rdt patients`), a journey
//! event by event (`rdt journey`) and its first events in brief (`rdt demo`). JSON
//! output is the types' own `Serialize`; these are the readable forms.

use std::fmt::Write as _;

use crate::event::Event;
use crate::store::{Journey, PatientSummary};

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

impl Journey {
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
