//! [`Facts`]: what a tool's result states, in RDT's own sentences, built by the tool
//! from its typed output ([`Tool::facts`](crate::Tool::facts)).
//!
//! The sentences are the product's wording of a result: the assistant writes its lead
//! from them and shows them after it. Deterministic and built from the output's own
//! fields, so every number they state is one the result holds. Beside the text, the
//! parts a check of the model's lead needs as data ([`DrugFacts`]), so nothing reads
//! them back out of the result's JSON by field name.
//!
//! Values are spoken as the result's JSON writes them ([`said`]): a number as JSON
//! prints it ("14.0", not "14"), an enum by its wire name with its underscores spaced
//! ("critical_high" is "critical high"), an absent value as nothing.

use serde::Serialize;
use serde_json::Value;

use crate::bounded::Bounded;
use crate::reading::{Asks, Concept, OutcomeAsked, Reading};
use crate::tool::Tool;

/// What one result states.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts {
    /// RDT's sentence(s) for the result.
    pub text: String,
    /// The result holds nothing to state (no value of the test, no DAS28 reading, no
    /// course): the text says so, and there is nothing for a model to answer from.
    pub nothing_found: bool,
    /// The drugs the result names, for a result about drugs (a medication history, a
    /// summary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drugs: Option<DrugFacts>,
    /// The result's sentences by what each states (a lab's latest value, trend and
    /// counts; a cohort's outcomes), so a lead is written from the ones the question
    /// asks about ([`Facts::for_lead`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<FactParts>,
    /// The aspects whose figure is withheld for too few comparable patients (a cohort
    /// outcome, a treatment option): their sentence says "not enough comparable
    /// patients" beside the population's figure, so a lead answering one must say so
    /// too, not give the population's figure as the similar patients' (a 1.5B model
    /// wrote "Among the 20 most similar historical patients, 46% achieved a
    /// methotrexate response" over "not enough comparable patients (n 0) ...,
    /// population 46%").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<Aspect>,
    /// The two values a comparison states, in RDT's words ("from 1.82 on 2021-02-16
    /// to 1.54 on 2021-07-26"), for the answer to a yes/no or either/or comparison to
    /// carry: the direction alone ("Falling.") does not say what was compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<String>,
}

/// A result's sentences by aspect (each also in [`Facts::text`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FactParts {
    /// What every lead needs: what the figures are of, and the latest value ("Latest
    /// CRP of p-1: 4.1 mg/L on 2023-05-02, flagged normal."; "In silico cohort of p-1
    /// at 2023-05-02: 20 most similar historical patients.").
    pub opening: String,
    /// The other sentences, each with what it states.
    pub each: Vec<(Aspect, String)>,
}

/// What one sentence of a result states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    /// The direction over the span read.
    Trend,
    /// How many values, readings or flares (in the record, when the result also
    /// counts over a span).
    Count,
    /// How many values over the span read: part of a count's lead only when the
    /// question names a span ("How many CRPs in the last year?"); asked "How many
    /// times has her haemoglobin been checked?", a 1.5B model gave the last year's 3
    /// for the record's 24.
    SpanCount,
    /// The latest value against an earlier one ([`crate::change::Change`]).
    Change,
    /// One cohort outcome's figures.
    Outcome(OutcomeAsked),
    /// Drug courses: the classes ever started, the courses with their dates, stop
    /// reasons and responses.
    Courses,
    /// Whether the drug, class or group the question named was ever started: the
    /// sentence answering an existence question on its own.
    Asked,
    /// One treatment option's figures (`compare_treatments`).
    TreatmentOption(journey::clinical::TreatmentOption),
    /// Which option did best among those with enough patients (`compare_treatments`):
    /// the answer to "which option?", no part of a lead about one named option (a small
    /// model wrote the winner into it).
    Ranking,
    /// What a set of figures is and is not (the observational caveat).
    Caveat,
}

impl Aspect {
    /// Whether asking `self` asks `other` too (the DAS28 at any day covers each day's).
    pub fn covers(&self, other: &Aspect) -> bool {
        match (self, other) {
            (Aspect::Outcome(a), Aspect::Outcome(b)) => a.covers(*b),
            _ => self == other,
        }
    }
}

impl Facts {
    /// A result stated in parts: its text is the opening, then each part's sentence.
    pub fn in_parts(opening: String, each: Vec<(Aspect, String)>) -> Self {
        let text = std::iter::once(opening.as_str()).chain(each.iter().map(|(_, s)| s.as_str())).collect::<Vec<_>>();
        let mut facts = Facts::stated(text.join(" "));
        facts.parts = Some(FactParts { opening, each });
        facts
    }

    /// The sentences a lead answering `reading` is written from: the opening and the
    /// parts the reading asks for (a latest value or the current drugs: the opening
    /// alone; a trend: the trend; a count: the counts; whether something is on
    /// record: the counts and courses; flares: the counts, which hold them; a drug
    /// named: its courses; a cohort outcome: the outcomes asked). Every sentence
    /// when the result has no parts, when the reading asks for nothing in particular,
    /// or when it names cohort outcomes the result does not state. RDT's answer still
    /// shows them all ([`Facts::text`]). Why: the sentences the question did not ask
    /// about are what a small model copied wrongly (a count read as the value, one
    /// outcome's figure for another's).
    pub fn for_lead(&self, reading: &Reading) -> String {
        let facts = self.aspect_asked(reading);
        match self.verdict(reading) {
            Some(verdict) => format!("{facts} {}", verdict.sentence()),
            None => facts,
        }
    }

    /// What these facts answer to a yes/no or either/or question about a category
    /// ("Is the ALT rising?"), read from the sentences a lead is written from; `None`
    /// when the question asks after no category, or they state none of its kind.
    pub fn verdict(&self, reading: &Reading) -> Option<CategoryVerdict> {
        let mut verdict = CategoryVerdict::of(&self.aspect_asked(reading), reading)?;
        if reading.asks == Asks::Comparison {
            verdict.values = self.compared.clone();
        }
        Some(verdict)
    }

    /// The opening and the parts of the aspect `reading` asks for.
    fn aspect_asked(&self, reading: &Reading) -> String {
        let Some(parts) = &self.parts else {
            return self.text.clone();
        };
        // Whether a named drug was ever started: the sentence saying so is the answer,
        // yes or no ("Ever started a JAK inhibitor: no, never on record; ...").
        let asked = parts.each.iter().find(|(a, _)| *a == Aspect::Asked);
        if let (Asks::Existence, Some((_, sentence))) = (reading.asks, asked) {
            return sentence.clone();
        }
        let mut wanted: Vec<Aspect> = match reading.asks {
            Asks::Value => vec![],
            Asks::Count if reading.window.is_some() => vec![Aspect::Count, Aspect::SpanCount],
            Asks::Count => vec![Aspect::Count],
            Asks::Existence => vec![Aspect::Count, Aspect::Courses],
            Asks::Trend => vec![Aspect::Trend],
            Asks::Comparison => vec![Aspect::Change, Aspect::Courses],
            Asks::TreatmentOption => match reading.option_asked() {
                Some(option) => vec![Aspect::TreatmentOption(option), Aspect::Caveat],
                None => return self.text.clone(),
            },
            Asks::CohortOutcome => {
                // Over every option's sentences a small model called one option's flare
                // figure the response to another: a drug named leads with its option.
                let asked = cohort_aspects_asked(reading);
                if asked.is_empty() {
                    return self.text.clone();
                }
                asked
            }
            _ => return self.text.clone(),
        };
        if reading.concept == Some(Concept::Flare) {
            wanted.push(Aspect::Count);
        }
        // A drug, class or brand named: its courses say when and why (a count of them
        // is the count's sentence alone).
        if reading.drug_group().is_some() && reading.asks != Asks::Count {
            wanted.push(Aspect::Courses);
        }
        let chosen: Vec<&str> = parts
            .each
            .iter()
            .filter(|(a, _)| wanted.iter().any(|w| w.covers(a)))
            .map(|(_, text)| text.as_str())
            .collect();
        let asked_outcomes = wanted.iter().any(|a| matches!(a, Aspect::Outcome(_) | Aspect::TreatmentOption(_)));
        if asked_outcomes && chosen.is_empty() {
            return self.text.clone();
        }
        // A count's lead is written from the counts alone: beside the latest value, a
        // small model counted that one value ("1 CRP result on file, 0.5 mg/L").
        let opening = (reading.asks != Asks::Count || chosen.is_empty()).then_some(parts.opening.as_str());
        opening.into_iter().chain(chosen).collect::<Vec<_>>().join(" ")
    }
}

/// What facts say of the categories a question asks after
/// ([`Reading::categories_asked`]): the category of the asked kind they state (a
/// direction, or a level: a flag, an activity category) and, for a yes/no question,
/// the answer. Computed, so a lead copies the answer instead of judging it (a 1.5B
/// model answered "Yes, the ALT has risen." over "stable"), and the lead check holds a
/// lead's yes or no to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryVerdict {
    /// The categories asked, in the question's order.
    pub asked: Vec<&'static str>,
    /// The category of their kind the facts state.
    pub stated: &'static str,
    /// The answer to a yes/no question (one category asked); `None` for an either/or
    /// one ("up or down?"), answered by the category itself.
    pub yes: Option<bool>,
    /// For a comparison, the two values compared ([`Facts::compared`]).
    pub values: Option<String>,
}

impl CategoryVerdict {
    fn of(facts: &str, reading: &Reading) -> Option<CategoryVerdict> {
        use crate::vocabulary::{category_at, words_of, CHANGED, DIRECTIONS};
        let asked = reading.categories_asked();
        let first = *asked.first()?;
        let direction = first == CHANGED || DIRECTIONS.contains(&first);
        let worse = reading.worse_when();
        let words = words_of(facts);
        let stated = (0..words.len())
            .filter_map(|i| category_at(&words, i, worse))
            .find(|c| DIRECTIONS.contains(c) == direction)?;
        let yes = match asked.as_slice() {
            [only] if *only == CHANGED => Some(stated != "stable"),
            [only] => Some(*only == stated),
            _ => None,
        };
        Some(CategoryVerdict { asked, stated, yes, values: None })
    }

    /// The answer in a few words, for a lead to begin with: "No, stable, not rising";
    /// "Yes, falling"; "stable, neither rising nor falling".
    pub fn answer(&self) -> String {
        let stated = self.stated;
        let answer = match (self.yes, self.asked.as_slice()) {
            (Some(true), _) => format!("Yes, {stated}"),
            (Some(false), [asked]) if *asked != crate::vocabulary::CHANGED => format!("No, {stated}, not {asked}"),
            (Some(false), _) => format!("No, {stated}"),
            (None, asked) if asked.contains(&stated) => stated.to_owned(),
            (None, asked) => format!("{stated}, neither {}", asked.join(" nor ")),
        };
        match &self.values {
            Some(values) => format!("{answer}, {values}"),
            None => answer,
        }
    }

    /// The sentence a lead copies: "So the answer is no: it is stable, not rising.";
    /// "So it is stable: neither rising nor falling."
    pub fn sentence(&self) -> String {
        let stated = self.stated;
        match (self.yes, self.asked.as_slice()) {
            (Some(true), _) => format!("So the answer is yes: it is {stated}."),
            (Some(false), [asked]) if *asked != crate::vocabulary::CHANGED => {
                format!("So the answer is no: it is {stated}, not {asked}.")
            }
            (Some(false), _) => format!("So the answer is no: it is {stated}."),
            (None, asked) if asked.contains(&stated) => format!("So it is {stated}."),
            (None, asked) => format!("So it is {stated}: neither {}.", asked.join(" nor ")),
        }
    }
}

/// The drugs a result names, by role, as written in the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DrugFacts {
    /// Drugs running at the record's last event.
    pub current: Vec<String>,
    /// The drug of each course the result lists (current or past; the listed courses
    /// only, when the list was cut).
    pub courses: Vec<String>,
    /// DMARDs ever started, by name; empty when the result counts them without names.
    pub dmards_tried: Vec<String>,
}

impl Facts {
    /// A result stating `text`.
    pub fn stated(text: String) -> Self {
        Facts { text, nothing_found: false, drugs: None, parts: None, withheld: Vec::new(), compared: None }
    }

    /// A result holding nothing to state, `text` saying so.
    pub fn nothing(text: String) -> Self {
        Facts { text, nothing_found: true, drugs: None, parts: None, withheld: Vec::new(), compared: None }
    }

    /// These facts with the two values their comparison states ([`Facts::compared`]).
    pub fn comparing(mut self, compared: Option<String>) -> Self {
        self.compared = compared;
        self
    }

    pub fn with_drugs(mut self, drugs: DrugFacts) -> Self {
        self.drugs = Some(drugs);
        self
    }

    /// These facts, with `aspects` withheld for too few comparable patients.
    pub fn withholding(mut self, aspects: impl IntoIterator<Item = Aspect>) -> Self {
        for aspect in aspects {
            if !self.withheld.contains(&aspect) {
                self.withheld.push(aspect);
            }
        }
        self
    }

    /// Whether every aspect `reading` asks for (the cohort outcomes asked, the
    /// treatment option asked) is withheld for too few comparable patients: then the
    /// answer is that there are not enough of them.
    pub fn withholds_asked(&self, reading: &Reading) -> bool {
        let asked = self.figures_asked(reading);
        !asked.is_empty() && asked.iter().all(|a| self.withheld.contains(a))
    }

    /// Whether these facts give a figure for every aspect `reading` asks for (none
    /// withheld): then "not enough comparable patients" is no answer.
    pub fn states_asked(&self, reading: &Reading) -> bool {
        let asked = self.figures_asked(reading);
        !asked.is_empty() && asked.iter().all(|a| !self.withheld.contains(a))
    }

    /// The figures `reading` asks for that these facts state: the cohort outcomes
    /// asked, the treatment option asked.
    fn figures_asked(&self, reading: &Reading) -> Vec<Aspect> {
        let asked: Vec<Aspect> = match reading.asks {
            Asks::CohortOutcome => cohort_aspects_asked(reading),
            Asks::TreatmentOption => reading.option_asked().map(Aspect::TreatmentOption).into_iter().collect(),
            _ => Vec::new(),
        };
        let stated = |a: &Aspect| self.parts.as_ref().is_some_and(|p| p.each.iter().any(|(b, _)| a.covers(b)));
        asked.into_iter().filter(stated).collect()
    }
}

/// What a cohort question asks of facts: the outcomes asked (the cohort's sentences)
/// and the option a named drug is (the options' sentences: figures of those who
/// started it); a result holds one kind or the other.
fn cohort_aspects_asked(reading: &Reading) -> Vec<Aspect> {
    let option = reading.drug_group().and(reading.option_asked());
    reading.outcomes_asked().into_iter().map(Aspect::Outcome).chain(option.map(Aspect::TreatmentOption)).collect()
}

/// The facts of a bounded output: the tool's sentences, and the cut said when a list
/// was shortened (a cut is never silent, here as in the result).
pub fn facts_of<T: Tool>(output: &Bounded<T::Output>) -> Facts {
    let mut facts = T::facts(&output.value);
    if output.truncated {
        facts.text.push_str(" (The list was shortened.)");
    }
    facts
}

/// `value` as the sentences speak it: its JSON form, a string's underscores spaced, a
/// number as JSON prints it, nothing for an absent value (`None`, a non-finite number).
pub fn said<T: Serialize + ?Sized>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s.replace('_', " "),
        Ok(Value::Number(n)) => n.to_string(),
        Ok(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Names joined by ", ", or "none" for no name.
pub(crate) fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::reference::Flag;

    /// Values read as the result's JSON writes them, so a sentence built from the
    /// typed output says what one built from the JSON said.
    /// A cohort's lead is written from its opening and the outcomes asked; a question
    /// naming none, or one the result does not state, gets every sentence.
    #[test]
    fn a_lead_is_written_from_the_outcomes_asked() {
        use crate::reading::{OutcomeAsked, Reading};
        let opening = "In silico cohort of p-1 at 2023-05-02: 20 most similar historical patients.";
        let mtx = "MTX response at 6 months: 45% (9 of 20).";
        let flare = "flare within 6 months: 38% by Kaplan-Meier.";
        let facts = Facts::in_parts(
            opening.into(),
            vec![(Aspect::Outcome(OutcomeAsked::MtxResponse), mtx.into()), (Aspect::Outcome(OutcomeAsked::Flare), flare.into())],
        );
        assert_eq!(facts.text, format!("{opening} {mtx} {flare}"));
        let lead = |q: &str| facts.for_lead(&Reading::of(q));
        assert_eq!(lead("How often do similar patients flare within 6 months?"), format!("{opening} {flare}"));
        assert_eq!(lead("How did people with a profile like hers fare afterwards?"), facts.text);
        assert_eq!(lead("How many comparable patients changed treatment?"), facts.text, "not stated: all");
        assert_eq!(Facts::stated("Latest CRP: 4.1 mg/L.".into()).for_lead(&Reading::of("Flares?")), "Latest CRP: 4.1 mg/L.");
    }

    /// A DAS28 asked at a named day is led by that day's figure; asked at no day, by
    /// all three; the day's figure withheld is the answer for that day alone.
    #[test]
    fn a_das28_at_a_named_day_is_led_by_that_day() {
        use crate::reading::{OutcomeAsked, Reading};
        let opening = "In silico cohort of p-1 at 2023-05-02: 20 most similar historical patients.";
        let day = |d: u32, text: &str| (Aspect::Outcome(OutcomeAsked::Das28At(d)), text.to_owned());
        let facts = Facts::in_parts(
            opening.into(),
            vec![
                day(150, "DAS28 at day 150 among similar patients: 2.39 (n 15)."),
                day(270, "DAS28 at day 270 among similar patients: 2.4 (n 14)."),
                day(360, "DAS28 at day 360 among similar patients: not enough comparable patients (n 6, minimum 10)."),
            ],
        )
        .withholding([Aspect::Outcome(OutcomeAsked::Das28At(360))]);
        let one_year = Reading::of("Show me where similar patients' DAS28 landed at one year.");
        assert_eq!(
            facts.for_lead(&one_year),
            format!("{opening} DAS28 at day 360 among similar patients: not enough comparable patients (n 6, minimum 10).")
        );
        assert!(facts.withholds_asked(&one_year));
        let nine_months = Reading::of("Matched cohort, mean DAS28 at 9 months?");
        assert_eq!(facts.for_lead(&nine_months), format!("{opening} DAS28 at day 270 among similar patients: 2.4 (n 14)."));
        assert!(facts.states_asked(&nine_months));
        let any_day = Reading::of("What DAS28 did similar patients reach?");
        assert_eq!(facts.for_lead(&any_day), facts.text);
        assert!(!facts.withholds_asked(&any_day), "two days have figures");
    }

    /// A cohort question naming a drug, answered from the options' sentences: the lead
    /// is written from that drug's option alone, and its figures withheld are the
    /// answer ("not enough comparable patients"), not another option's figure.
    #[test]
    fn a_cohort_question_on_a_drug_is_led_by_its_option() {
        use crate::reading::Reading;
        use journey::clinical::TreatmentOption;
        let opening = "Treatment options of p-1 at 2023-05-02 (current: methotrexate, tofacitinib).";
        let cont = "continue the current treatment: 34 similar patients stayed on their treatment; among them, flare \
                    within 6 months: 24%.";
        let mtx = "methotrexate: not enough comparable patients (none of the 1600 most similar started it; minimum 20).";
        let facts = Facts::in_parts(
            opening.into(),
            vec![
                (Aspect::TreatmentOption(TreatmentOption::Continue), cont.into()),
                (Aspect::TreatmentOption(TreatmentOption::Methotrexate), mtx.into()),
            ],
        )
        .withholding(vec![Aspect::TreatmentOption(TreatmentOption::Methotrexate)]);
        let reading = Reading::of("pts like him: MTX response rate at 6/12?");
        assert_eq!(reading.asks, crate::reading::Asks::CohortOutcome);
        assert_eq!(facts.for_lead(&reading), format!("{opening} {mtx}"));
        assert!(facts.withholds_asked(&reading), "the drug's figures are withheld: too few");
        // No drug named: the cohort's outcomes, or every sentence.
        assert_eq!(facts.for_lead(&Reading::of("How did similar patients fare?")), facts.text);
    }

    /// A lab's lead: the latest value alone for a value, with the trend for a trend,
    /// with the counts for a count.
    #[test]
    fn a_lab_lead_is_written_from_the_aspect_asked() {
        use crate::reading::Reading;
        let latest = "Latest CRP of p-1: 4.1 mg/L on 2023-05-02, flagged normal.";
        let trend = "Trend over the last 365 days: stable (4 values).";
        let count = "The record holds 9 CRP values.";
        let in_span = "Over the last 365 days: 4 CRP values.";
        let facts = Facts::in_parts(
            latest.into(),
            vec![(Aspect::Trend, trend.into()), (Aspect::Count, count.into()), (Aspect::SpanCount, in_span.into())],
        );
        assert_eq!(facts.text, format!("{latest} {trend} {count} {in_span}"));
        let lead = |q: &str| facts.for_lead(&Reading::of(q));
        assert_eq!(lead("What is the latest CRP?"), latest);
        assert_eq!(lead("Show the CRP trend."), format!("{latest} {trend}"));
        // A yes/no question gets what the facts say of its category.
        assert_eq!(lead("Is the CRP rising?"), format!("{latest} {trend} So the answer is no: it is stable, not rising."));
        assert_eq!(lead("Has the CRP been stable?"), format!("{latest} {trend} So the answer is yes: it is stable."));
        assert_eq!(lead("Is the CRP raised?"), format!("{latest} So the answer is no: it is normal, not high."));
        assert_eq!(lead("Has the CRP shifted lately?"), format!("{latest} {trend} So the answer is no: it is stable."));
        assert_eq!(lead("Is the CRP going up or down?"), format!("{latest} {trend} So it is stable: neither rising nor falling."));
        let verdict = facts.verdict(&Reading::of("In the last year has the CRP risen?")).unwrap();
        assert_eq!((verdict.stated, verdict.yes), ("stable", Some(false)));
        assert_eq!(verdict.answer(), "No, stable, not rising");
        assert_eq!(facts.verdict(&Reading::of("Has the CRP moved?")).unwrap().answer(), "No, stable");
        assert_eq!(facts.verdict(&Reading::of("Is the CRP stable?")).unwrap().answer(), "Yes, stable");
        assert_eq!(facts.verdict(&Reading::of("Is the CRP normal or high?")).unwrap().answer(), "normal");
        assert_eq!(
            facts.verdict(&Reading::of("Is the CRP going up or down?")).unwrap().answer(),
            "stable, neither rising nor falling"
        );
        assert_eq!(facts.verdict(&Reading::of("What is the CRP trend?")), None, "no category asked");
        // A comparison's answer carries the two values compared.
        let change = "Against the value before it (6.2 mg/L on 2023-01-10), the latest (4.1 mg/L on 2023-05-02) is lower (better), by 2.1 mg/L.";
        let compared = Facts::in_parts(latest.into(), vec![(Aspect::Change, change.into())])
            .comparing(Some("from 6.2 mg/L on 2023-01-10 to 4.1 mg/L on 2023-05-02".into()));
        let verdict = compared.verdict(&Reading::of("Is the CRP lower than the previous one?")).unwrap();
        assert_eq!(verdict.answer(), "Yes, falling, from 6.2 mg/L on 2023-01-10 to 4.1 mg/L on 2023-05-02");
        let trend_only = facts.verdict(&Reading::of("Is the CRP rising?")).unwrap();
        assert_eq!(trend_only.values, None, "a trend's answer names no pair");
        let few = Facts::in_parts(latest.into(), vec![(Aspect::Trend, "Too few values for a trend.".into())]);
        assert_eq!(few.for_lead(&Reading::of("Is the CRP rising?")), format!("{latest} Too few values for a trend."));
        assert_eq!(lead("How many CRP results are on record?"), count, "a count from the record's count alone");
        assert_eq!(lead("How many CRP results in the last year?"), format!("{count} {in_span}"), "a span named");
        assert_eq!(lead("Tell me about her."), facts.text, "nothing in particular: all");
    }

    /// A medication lead: the current drugs alone when asked what she takes; with the
    /// courses when a drug or class is named, or whether one was ever started.
    #[test]
    fn a_medication_lead_is_written_from_the_aspect_asked() {
        use crate::reading::Reading;
        let opening = "Medication history of p-1: current drugs: methotrexate; DMARDs tried: 2; courses in the record: 3.";
        let courses = "Courses: etanercept 2020-01-02 to 2021-03-04 (427 days); methotrexate since 2019-05-06 (ongoing).";
        let facts = Facts::in_parts(opening.into(), vec![(Aspect::Courses, courses.into())]);
        assert_eq!(facts.text, format!("{opening} {courses}"));
        let lead = |q: &str| facts.for_lead(&Reading::of(q));
        assert_eq!(lead("What is she taking at the moment?"), opening);
        assert_eq!(lead("Was she ever given a biologic?"), facts.text);
        assert_eq!(lead("When was etanercept stopped?"), facts.text);
    }

    /// The figures asked are withheld when every one of them is: a cohort question
    /// about the MTX response over a withheld MTX response, an option question about
    /// a withheld option; not a question asking after another outcome too.
    #[test]
    fn withheld_figures_are_read_by_the_aspect_asked() {
        use crate::reading::{OutcomeAsked, Reading};
        let facts = Facts::in_parts(
            "In silico cohort of p-1 at 2023-05-02: 20 most similar historical patients.".into(),
            vec![
                (Aspect::Outcome(OutcomeAsked::MtxResponse), "MTX response at 6 months among similar patients: not enough comparable patients (n 0, minimum 10); in the whole population: 46% (13 of 28).".into()),
                (Aspect::Outcome(OutcomeAsked::Flare), "flare within 6 months among similar patients: 27% by Kaplan-Meier.".into()),
            ],
        )
        .withholding([Aspect::Outcome(OutcomeAsked::MtxResponse)]);
        let withholds = |q: &str| facts.withholds_asked(&Reading::of(q));
        assert!(withholds("What share of similar patients responded to methotrexate at 6 months?"));
        assert!(!withholds("How often do similar patients flare within 6 months?"));
        assert!(facts.states_asked(&Reading::of("How often do similar patients flare within 6 months?")));
        assert!(!facts.states_asked(&Reading::of("What share of similar patients responded to methotrexate at 6 months?")));
        assert!(!withholds("How did people with a profile like hers fare afterwards?"), "no outcome asked");
        assert!(!withholds("What is the latest CRP?"));
    }

    #[test]
    fn values_are_said_as_their_json_writes_them() {
        assert_eq!(said(&14.0_f64), "14.0");
        assert_eq!(said(&12.4_f64), "12.4");
        assert_eq!(said(&f64::NAN), "");
        assert_eq!(said(&7_usize), "7");
        assert_eq!(said(&Flag::CriticalHigh), "critical high");
        assert_eq!(said(&NaiveDate::from_ymd_opt(2023, 5, 2)), "2023-05-02");
        assert_eq!(said(&None::<f64>), "");
        assert_eq!(said("p_1"), "p 1");
        assert_eq!(names_or_none(&[]), "none");
        assert_eq!(names_or_none(&["a".into(), "b".into()]), "a, b");
    }
}
