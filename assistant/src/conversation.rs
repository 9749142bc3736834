//! A conversation: the questions one asker put about one open patient in one session,
//! so that a follow-up ("and the ESR?", "what about on a TNF inhibitor?", "over the
//! last 5 visits?") is answered against the turn before it. The chat panel keeps one
//! per session and patient page; `rdt chat` one per run.
//!
//! A follow-up is resolved as a reading, never by pasting questions together: its own
//! reading (`tools::reading`) names what changes — a concept, a drug group, a window,
//! a cohort size, what is asked — and the previous turn's reading supplies the rest
//! ([`follow_up`]). Routing, the tools' arguments and the question's audit entry use
//! the resolved reading; retrieval and the model see the question with what RDT read
//! it as ([`restate`]), since "and the ESR?" alone tells a small model little.
//!
//! Scope: a conversation holds one session's turns about one patient. A turn for
//! another patient (or in another session) starts a new conversation, so nothing of
//! one patient's questions carries into another's; and whatever the history holds, a
//! turn's tools read only its own [`AskContext`]'s patient. The history is bounded
//! ([`MAX_TURNS`], the oldest turn leaves first). Each question's audit entry links
//! the conversation's previous question entry ([`audit_log::TurnLink`]: its place and
//! leaf hash, and which turn a follow-up was read against), so the trail holds the
//! conversation as a chain.

use std::collections::VecDeque;

use audit_log::{AuditLog, Digest, Seq, TurnLink};
use journey::PatientId;
use tools::reading::{Asks, Concept, Reading, Window};

use crate::answer::{Answer, AskContext};
use crate::chat::TokenSink;
use crate::session::{AskError, Assistant};

/// Turns a conversation keeps. A follow-up reads against the latest turn that read as
/// something; eight questions back is further than a clinician's "and ...?" reaches,
/// and the bound keeps a long session's memory flat.
pub const MAX_TURNS: usize = 8;

/// A question as the loop takes it: how RDT reads it, the words retrieval and the
/// model see, and the turn before it in its conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Posed {
    /// The question's own reading, or, for a follow-up, the one resolved against an
    /// earlier turn ([`follow_up`]).
    pub reading: Reading,
    /// The question, and for a follow-up what it was read as: "and the ESR? (read with
    /// the question before as: the latest ESR)".
    pub text: String,
    /// The conversation's previous question entry, for this question's entry.
    pub follows: Option<TurnLink>,
    /// What a follow-up was read as ([`restate`]), shown with its answer.
    pub read_as: Option<String>,
}

impl Posed {
    /// A question on its own: its own reading and words, no turn before it.
    pub fn alone(question: &str) -> Posed {
        Posed { reading: Reading::of(question), text: question.to_owned(), follows: None, read_as: None }
    }
}

/// One turn as the next one reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub question: String,
    /// The reading the turn was answered with (a follow-up's resolved one), which the
    /// next follow-up reads against.
    pub reading: Reading,
    /// Its question entry, and that entry's leaf hash: what the next turn links.
    pub question_seq: Seq,
    pub question_hash: Digest,
    /// The entry holding its answer or refusal.
    pub answer_seq: Seq,
}

/// The turns of one session about one patient, at most `limit`, oldest first.
#[derive(Debug, Clone)]
pub struct Conversation {
    session: Option<String>,
    patient: Option<PatientId>,
    turns: VecDeque<Exchange>,
    limit: usize,
}

impl Default for Conversation {
    fn default() -> Self {
        Conversation::with_limit(MAX_TURNS)
    }
}

impl Conversation {
    pub fn new() -> Self {
        Conversation::default()
    }

    /// A conversation keeping at most `limit` turns (at least one).
    pub fn with_limit(limit: usize) -> Self {
        Conversation { session: None, patient: None, turns: VecDeque::new(), limit: limit.max(1) }
    }

    /// The turns kept, oldest first.
    pub fn turns(&self) -> impl Iterator<Item = &Exchange> {
        self.turns.iter()
    }

    pub fn len(&self) -> usize {
        self.turns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// The patient the turns are about.
    pub fn patient(&self) -> Option<&PatientId> {
        self.patient.as_ref()
    }

    /// Asks `question` as the conversation's next turn: posed against the turns
    /// before it ([`Conversation::pose`]), answered by `assistant` with `ctx`'s
    /// principal and patient as the whole scope, and kept for the next turn.
    pub async fn ask(
        &mut self,
        assistant: &Assistant,
        question: &str,
        ctx: &AskContext,
        sink: TokenSink,
    ) -> Result<Answer, AskError> {
        let posed = self.pose(question, ctx);
        let answer = assistant.ask_posed(question, &posed, ctx, sink).await?;
        self.remember(assistant.log(), &answer).await?;
        Ok(answer)
    }

    /// How `question`, asked in `ctx`, is posed. A turn for another patient or session
    /// than the conversation's first starts a new conversation. The first question
    /// stands alone; a later one links the previous turn, and is a follow-up when its
    /// own reading completes the latest turn that read as something ([`follow_up`]).
    pub fn pose(&mut self, question: &str, ctx: &AskContext) -> Posed {
        if self.session.as_deref() != Some(ctx.session.as_str()) || self.patient != ctx.patient {
            self.turns.clear();
            self.session = Some(ctx.session.clone());
            self.patient = ctx.patient.clone();
        }
        let alone = Posed::alone(question);
        let Some(previous) = self.turns.back() else {
            return alone;
        };
        let link = TurnLink { seq: previous.question_seq, entry: previous.question_hash, read_against: None };
        let resolved = self
            .turns
            .iter()
            .rev()
            .find(|t| carries(&t.reading))
            .and_then(|t| follow_up(&t.reading, &alone.reading).map(|reading| (t.question_seq, reading)));
        let Some((against, reading)) = resolved else {
            return Posed { follows: Some(link), ..alone };
        };
        let read_as = restate(&reading);
        let text = match &read_as {
            Some(restated) => format!("{question} (read with the question before as: {restated})"),
            None => question.to_owned(),
        };
        Posed { reading, text, follows: Some(TurnLink { read_against: Some(against), ..link }), read_as }
    }

    /// Keeps `answer` as the latest turn, with its question entry's leaf hash read
    /// from `log` for the next turn's link.
    pub async fn remember(&mut self, log: &AuditLog, answer: &Answer) -> Result<(), AskError> {
        // The question's entry is the first of its entries (`Turn::read`).
        let question_seq = *answer.audit.first().ok_or(AskError::MissingEntry(answer.answer_seq))?;
        let stored = log.entry(question_seq).await?.ok_or(AskError::MissingEntry(question_seq))?;
        self.push(Exchange {
            question: answer.question.clone(),
            reading: answer.reading.clone(),
            question_seq,
            question_hash: stored.computed_leaf_hash(),
            answer_seq: answer.answer_seq,
        });
        Ok(())
    }

    fn push(&mut self, exchange: Exchange) {
        self.turns.push_back(exchange);
        while self.turns.len() > self.limit {
            self.turns.pop_front();
        }
    }
}

/// Whether a turn's reading has anything a follow-up could carry on.
fn carries(reading: &Reading) -> bool {
    reading.asks != Asks::Unknown
}

/// Openings of a follow-up: "and the ESR?", "what about ...", "how about ...".
const CONTINUATIONS: &[&[&str]] =
    &[&["and"], &["what", "about"], &["how", "about"], &["what", "of"], &["same", "for"], &["also"], &["then"]];

/// `asked` read against `previous`, when it is a follow-up of it: it opens like one
/// ("and ...", "what about ...") or is incomplete alone (it reads as nothing, or asks a
/// record fact of no concept: "over the last 5 visits?", "how many?"), and it names
/// something to change (a concept, a window, a cohort size, or what is asked).
///
/// The resolved reading is `previous` with what `asked` names put in: its concept
/// (a lab test, DAS28, flares, a drug group: "what about on a TNF inhibitor?" after a
/// cohort or options question is that question on TNF inhibitors), its window, its
/// cohort size, and what it asks when it asks something of its own ("how many?"). A
/// window named on a latest value makes it a trend over that window, as a question
/// naming both reads; a concept named after an overview asks its value.
pub fn follow_up(previous: &Reading, asked: &Reading) -> Option<Reading> {
    if !carries(previous) {
        return None;
    }
    let opens = CONTINUATIONS.iter().any(|opening| {
        asked.words.len() >= opening.len() && asked.words.iter().zip(opening.iter()).all(|(w, o)| w == o)
    });
    let incomplete = asked.asks == Asks::Unknown || (asked.asks_record_fact() && asked.concept.is_none());
    let names_something = asked.concept.is_some()
        || asked.window.is_some()
        || asked.cohort_size.is_some()
        || !matches!(asked.asks, Asks::Unknown | Asks::Value);
    if !(opens || incomplete) || !names_something {
        return None;
    }
    let asks = match asked.asks {
        Asks::Unknown => previous.asks,
        Asks::Value if asked.concept.is_none() => previous.asks,
        own => own,
    };
    let asks = match asks {
        Asks::Value if asked.window.is_some() => Asks::Trend,
        Asks::Summary if asked.concept.is_some() => Asks::Value,
        other => other,
    };
    Some(Reading {
        asks,
        concept: asked.concept.clone().or_else(|| previous.concept.clone()),
        window: asked.window.or(previous.window),
        cohort_size: asked.cohort_size.or(previous.cohort_size),
        time_point: asked.time_point.or(previous.time_point),
        about_record: asked.about_record || previous.about_record,
        words: asked.words.clone(),
    })
}

/// A reading in a few words, for the model and the panel: "the latest ESR", "how CRP
/// moved over the last 5 visits", "how similar patients fared on a TNF inhibitor".
/// `None` for a reading of nothing in particular.
pub fn restate(reading: &Reading) -> Option<String> {
    let subject = reading.concept.as_ref().map(subject_of);
    let span = match reading.window {
        Some(Window::LastVisits(n)) => format!(" over the last {n} visits"),
        Some(Window::Days(n)) => format!(" over the last {n} days"),
        None => String::new(),
    };
    let on_drugs = reading.drug_group().map(|g| format!(" on {}", g.label())).unwrap_or_default();
    let text = match (reading.asks, subject) {
        (Asks::Value, Some(_)) if matches!(reading.concept, Some(Concept::Drugs { .. })) => match reading.drug_group() {
            Some(group) => format!("whether the patient is on {}", group.label()),
            None => "the current drugs".to_owned(),
        },
        (Asks::Value, Some(s)) => format!("the latest {s}{span}"),
        (Asks::Existence, Some(s)) => format!("whether the record holds {s}{span}"),
        (Asks::Count, Some(s)) => format!("how many {s} the record holds{span}"),
        (Asks::Trend, Some(s)) => format!("how {s} moved{span}"),
        (Asks::Comparison, Some(s)) => format!("{s} now against before"),
        (Asks::CohortOutcome, _) => format!("how similar patients fared{on_drugs}"),
        (Asks::CohortProfile, _) => "what similar patients share".to_owned(),
        (Asks::TreatmentOption, _) => format!("the treatment options, similar patients{on_drugs}"),
        (Asks::Forecast, s) => format!("the forecast of {}", s.unwrap_or_else(|| "disease activity".to_owned())),
        (Asks::Definition, Some(s)) => format!("what {s} means"),
        (Asks::Summary, _) => "an overview of the patient".to_owned(),
        (Asks::Alerts, _) => "the early alerts on the record".to_owned(),
        _ => return None,
    };
    Some(text)
}

/// What a concept is called in a restated reading.
fn subject_of(concept: &Concept) -> String {
    match concept {
        Concept::Lab { test: Some(test) } => test.name().to_owned(),
        Concept::Lab { test: None } => "lab values".to_owned(),
        // CDAI, SDAI and joint counts read as this concept too: no one score is named.
        Concept::DiseaseActivity => "disease activity".to_owned(),
        Concept::Flare => "flares".to_owned(),
        Concept::Drugs { group: Some(group) } => group.label(),
        Concept::Drugs { group: None } => "drugs".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use audit_log::{Principal, Role};
    use tools::drugs::DrugClass;
    use tools::reading::DrugGroup;
    use tools::LabTest;

    use super::*;
    use crate::testing::pid;

    /// `question` read after `before`: the resolved reading, or `None` when it stands alone.
    fn after(before: &str, question: &str) -> Option<Reading> {
        follow_up(&Reading::of(before), &Reading::of(question))
    }

    #[test]
    fn a_named_concept_replaces_the_previous_one() {
        let r = after("What is the latest CRP?", "And the ESR?").expect("a follow-up");
        assert_eq!((r.asks, r.lab_test()), (Asks::Value, Some(LabTest::Esr)));
        let r = after("How did her CRP move over the last 3 visits?", "and the ESR?").expect("a follow-up");
        assert_eq!((r.asks, r.lab_test(), r.window), (Asks::Trend, Some(LabTest::Esr), Some(Window::LastVisits(3))));
    }

    #[test]
    fn a_named_window_replaces_the_previous_one() {
        let r = after("What is the latest CRP?", "Over the last 5 visits?").expect("a follow-up");
        assert_eq!((r.asks, r.lab_test(), r.window), (Asks::Trend, Some(LabTest::Crp), Some(Window::LastVisits(5))));
        let r = after("How did her DAS28 move over the past year?", "and over the past 6 months?").expect("a follow-up");
        assert_eq!((r.asks, r.concept, r.window), (Asks::Trend, Some(Concept::DiseaseActivity), Some(Window::Days(180))));
    }

    #[test]
    fn a_named_drug_group_replaces_the_previous_one() {
        let tnf = DrugGroup::Class(DrugClass::TnfInhibitor);
        let r = after("How did similar patients fare on methotrexate?", "What about on a TNF inhibitor?").expect("a follow-up");
        assert_eq!((r.asks, r.drug_group()), (Asks::CohortOutcome, Some(&tnf)));
        let r = after("Should we switch her to a JAK inhibitor?", "what about a TNF inhibitor?").expect("a follow-up");
        assert_eq!((r.asks, r.drug_group()), (Asks::TreatmentOption, Some(&tnf)));
        let r = after("Was she ever on a biologic?", "and a TNF inhibitor?").expect("a follow-up");
        assert_eq!((r.asks, r.drug_group()), (Asks::Existence, Some(&tnf)));
    }

    #[test]
    fn what_is_asked_can_change_too() {
        let r = after("What is the latest CRP?", "How many?").expect("a follow-up");
        assert_eq!((r.asks, r.lab_test()), (Asks::Count, Some(LabTest::Crp)));
        let r = after("Give me an overview of this patient.", "and the ESR?").expect("a follow-up");
        assert_eq!((r.asks, r.lab_test()), (Asks::Value, Some(LabTest::Esr)));
    }

    /// A question complete alone, one naming nothing to change, or one after a turn
    /// that read as nothing stands alone.
    #[test]
    fn complete_or_empty_questions_stand_alone() {
        assert_eq!(after("What is the latest CRP?", "What is her latest DAS28?"), None);
        assert_eq!(after("How did her CRP move over the last 5 visits?", "How did similar patients fare?"), None);
        assert_eq!(after("What is the latest CRP?", "What about her blood group?"), None);
        assert_eq!(after("Write me a limerick.", "and the ESR?"), None);
    }

    #[test]
    fn readings_are_restated_in_a_few_words() {
        let r = after("What is the latest CRP?", "Over the last 5 visits?").unwrap();
        assert_eq!(restate(&r).as_deref(), Some("how CRP moved over the last 5 visits"));
        let r = after("How did similar patients fare on methotrexate?", "What about on a TNF inhibitor?").unwrap();
        assert_eq!(restate(&r).as_deref(), Some("how similar patients fared on a TNF inhibitor"));
        assert_eq!(restate(&Reading::of("Write me a limerick.")), None);
    }

    fn exchange(question: &str, seq: u64) -> Exchange {
        Exchange {
            question: question.into(),
            reading: Reading::of(question),
            question_seq: Seq(seq),
            question_hash: Digest::of(question.as_bytes()),
            answer_seq: Seq(seq + 1),
        }
    }

    fn asked(patient: &str, session: &str) -> AskContext {
        AskContext { principal: Principal::new("dr-c", Role::Clinician), patient: Some(pid(patient)), session: session.into() }
    }

    /// Posing: the first question stands alone; the next links it and reads against
    /// it (the question the model sees says so); another patient or another session
    /// starts over, with nothing carried.
    #[test]
    fn a_conversation_is_one_session_and_one_patient() {
        let mut c = Conversation::new();
        let first = c.pose("What is the latest CRP?", &asked("p-1", "s"));
        assert_eq!(first, Posed::alone("What is the latest CRP?"));
        c.push(exchange("What is the latest CRP?", 10));
        let next = c.pose("and the ESR?", &asked("p-1", "s"));
        let link = next.follows.clone().expect("linked");
        assert_eq!((link.seq, link.entry, link.read_against), (Seq(10), Digest::of(b"What is the latest CRP?"), Some(Seq(10))));
        assert_eq!(next.reading.lab_test(), Some(LabTest::Esr));
        assert_eq!(next.text, "and the ESR? (read with the question before as: the latest ESR)");

        let other = c.pose("and the ESR?", &asked("p-2", "s"));
        assert_eq!(other, Posed::alone("and the ESR?"), "another patient: nothing carried");
        assert!(c.is_empty() && c.patient() == Some(&pid("p-2")));
        c.push(exchange("What is the latest CRP?", 20));
        assert_eq!(c.pose("and the ESR?", &asked("p-2", "t")), Posed::alone("and the ESR?"), "another session");
    }

    /// At most `limit` turns are kept, the oldest leaving first; a follow-up reads
    /// against the latest turn that read as something, within them.
    #[test]
    fn the_history_is_bounded() {
        let ctx = asked("p-1", "s");
        let mut c = Conversation::with_limit(3);
        c.pose("What is the latest CRP?", &ctx);
        c.push(exchange("What is the latest CRP?", 0));
        c.push(exchange("Write me a limerick.", 2));
        let posed = c.pose("and the ESR?", &ctx);
        let link = posed.follows.expect("linked");
        assert_eq!((link.seq, link.read_against), (Seq(2), Some(Seq(0))), "the limerick skipped");
        c.push(exchange("Write me a limerick.", 4));
        c.push(exchange("Write me a limerick.", 6));
        assert_eq!(c.len(), 3);
        assert_eq!(c.turns().next().map(|t| t.question_seq), Some(Seq(2)), "the CRP turn left");
        let posed = c.pose("and the ESR?", &ctx);
        assert_eq!(posed.reading, Reading::of("and the ESR?"), "nothing older to read against");
        assert_eq!(posed.follows.map(|l| (l.seq, l.read_against)), Some((Seq(6), None)));
    }
}
