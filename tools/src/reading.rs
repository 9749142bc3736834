//! The question reader: a clinician's question becomes a typed [`Reading`] once —
//! what it asks ([`Asks`]), about which concept ([`Concept`], through the terminology
//! layer: lab tests, DAS28 and flares, drugs by name, brand or class), over which
//! [`Window`], of how large a cohort — and every later stage reads that value instead
//! of its own word list.
//!
//! Why a reading: routing by sentence similarity and per-tool word lists refused
//! questions worded unlike the tools' examples (issue 21: "how did patients with a
//! profile like hers fare" matched no cohort word; "was a biologic ever started" for a
//! patient on tocilizumab matched no drug name; "the last few visits" became the
//! default 365-day window). A reading says what kind of fact is asked, so each tool
//! declares which readings it answers ([`crate::Tool::answers`]) and a question is
//! refused only when no tool does.
//!
//! Rule-based and deterministic (no model): the same question always reads the same,
//! and the reading is recorded with the question in the audit trail. English only,
//! like the prompts. Words are matched whole ([`words_of`]), a plural `s` tolerated.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::drugs::{by_word, Drug, DrugClass, Target, DRUGS};
use journey::clinical::TreatmentOption;
use crate::reference::LabTest;
use crate::vocabulary::{cohort_size_named_in, lab_tests_named_in, window_named_in, words_of};

/// "The last few visits" (or "recent visits", "last several readings"): this many.
/// Three is the fewest readings a trend line is drawn through, and what "a few" means
/// in clinic talk.
pub const FEW_VISITS: u32 = 3;

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Asks {
    /// The latest or current value ("latest CRP", "what is she taking").
    Value,
    /// Whether something ever happened or is on record ("ever", "any").
    Existence,
    /// How many ("how many", "how often", "number of").
    Count,
    /// How something moved over visits or a window.
    Trend,
    /// Now against before, or against a date.
    Comparison,
    /// How similar patients fared.
    CohortOutcome,
    /// What similar patients share, or why they count as similar (before an option:
    /// "which drugs are over-represented among comparable patients" asks no choice).
    CohortProfile,
    /// Which treatment, or what if a treatment were started.
    TreatmentOption,
    /// What will happen to this patient.
    Forecast,
    /// What a term means.
    Definition,
    /// An overview of the patient (demographics, diagnoses, notes).
    Summary,
    /// The early alerts RDT raised on the record ("any alerts?").
    Alerts,
    /// None of the above could be read.
    Unknown,
}

/// The span of the record a question names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last `n` readings ("the last three visits"; "a few" is [`FEW_VISITS`]).
    LastVisits(u32),
    /// The last `n` days before the latest reading ("over the past 6 months").
    Days(u32),
}

/// Drugs a question names: one drug, a class, a target, or the broad groups clinicians
/// use ("a biologic", "any DMARD"). A tool input too (`medication_history`'s
/// `drug_group`), so what the reader found is what the tool checks the record for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DrugGroup {
    /// Any biologic DMARD: a TNF inhibitor or another biologic.
    Biologic,
    /// Any disease-modifying drug.
    Dmard,
    Class(DrugClass),
    Target(Target),
    /// One drug by its ingredient name (the table's, or as the record writes it).
    Drug(String),
}

impl DrugGroup {
    /// Whether a course of `name` (class and target from the drug table, when it is
    /// in it) belongs to the group.
    pub fn holds(&self, name: &str, drug: Option<&Drug>) -> bool {
        match self {
            DrugGroup::Biologic => {
                drug.is_some_and(|d| matches!(d.class, DrugClass::TnfInhibitor | DrugClass::OtherBiologic))
            }
            DrugGroup::Dmard => drug.is_some_and(|d| d.class.is_dmard()),
            DrugGroup::Class(class) => drug.is_some_and(|d| d.class == *class),
            DrugGroup::Target(target) => drug.is_some_and(|d| d.target == *target),
            DrugGroup::Drug(wanted) => {
                drug.is_some_and(|d| d.name.eq_ignore_ascii_case(wanted)) || name.eq_ignore_ascii_case(wanted)
            }
        }
    }

    /// The drugs of the table the group holds, by name: what a sentence about the
    /// group may name ("prednisolone" for "a glucocorticoid").
    pub fn members(&self) -> Vec<&'static str> {
        DRUGS.iter().filter(|d| self.holds(d.name, Some(d))).map(|d| d.name).collect()
    }

    /// The group as a sentence names it, with its article ("a TNF inhibitor",
    /// "tocilizumab").
    pub fn label(&self) -> String {
        match self {
            DrugGroup::Biologic => "a biologic".into(),
            DrugGroup::Dmard => "a DMARD".into(),
            DrugGroup::Class(class) => class_label(*class).into(),
            DrugGroup::Target(target) => match target {
                Target::Tnf => "a TNF inhibitor",
                Target::Il6Receptor => "an IL-6 receptor blocker",
                Target::Cd20 => "an anti-CD20 drug",
                Target::Costimulation => "a T-cell co-stimulation blocker",
                Target::Il1 => "an IL-1 blocker",
                Target::Jak => "a JAK inhibitor",
                Target::Conventional => "a conventional DMARD",
                Target::None => "a drug that is not disease-modifying",
            }
            .into(),
            DrugGroup::Drug(name) => name.clone(),
        }
    }
}

/// A drug class as a sentence names it, with its article.
pub fn class_label(class: DrugClass) -> &'static str {
    match class {
        DrugClass::Csdmard => "a csDMARD",
        DrugClass::TnfInhibitor => "a TNF inhibitor",
        DrugClass::OtherBiologic => "a non-TNF biologic",
        DrugClass::JakInhibitor => "a JAK inhibitor",
        DrugClass::Immunosuppressant => "an immunosuppressant",
        DrugClass::Glucocorticoid => "a glucocorticoid",
        DrugClass::Supportive => "a supportive drug",
    }
}

/// What a question is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Concept {
    /// A lab test; `test` when the question names exactly one.
    Lab { test: Option<LabTest> },
    /// DAS28 (or CDAI, SDAI, joint counts): the disease activity.
    DiseaseActivity,
    /// Flares of disease activity.
    Flare,
    /// Drugs; `group` when the question names a drug, brand or class.
    Drugs { group: Option<DrugGroup> },
}

/// One of the cohort outcomes of DESIGN.md a question can ask about: the response to
/// methotrexate or to a TNF inhibitor at 6 months, a flare within 6 months, the DAS28
/// at days 150, 270 and 360, a treatment switch within 12 months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeAsked {
    MtxResponse,
    TnfiResponse,
    Flare,
    /// The DAS28 at any of the cohort's days.
    Das28,
    /// The DAS28 at one of the cohort's days (150, 270, 360), named by the question.
    Das28At(u32),
    Switch,
}

impl OutcomeAsked {
    /// Whether asking `self` asks `other` too: the DAS28 at any day covers each day.
    pub fn covers(self, other: OutcomeAsked) -> bool {
        self == other || (self == OutcomeAsked::Das28 && matches!(other, OutcomeAsked::Das28At(_)))
    }
}

/// How near a named time point must be to one of the cohort's DAS28 days
/// ([`twin_core::cohort::Outcome::das28_day`]) to name it: "at 9 months" is day 270,
/// "at 6 months" none.
const DAS28_DAY_TOLERANCE: u32 = 20;

/// A question, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    pub asks: Asks,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concept: Option<Concept>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// The cohort size named ("the 20 most similar patients").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohort_size: Option<usize>,
    /// The time point named, in days ("at 9 months": 270).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_point: Option<u32>,
    /// The question points at the open patient's record (a pronoun, "patient", a
    /// time or record word, "Is the ...?"), so it is no definition.
    pub about_record: bool,
    /// The question's words, lower case, for tools that match their own terms
    /// (the glossary). Not recorded: the question is, beside the reading.
    #[serde(skip)]
    pub words: Vec<String>,
}

impl Reading {
    /// Reads `question`.
    pub fn of(question: &str) -> Reading {
        let words = words_of(question);
        let q = Words(&words);
        let concept = concept_of(question, &q);
        let window = window_of(question, &q);
        let about_record = points_at_record(&q);
        let asks = asks_of(&q, concept.as_ref(), window, about_record);
        // A span of the record, or a reading only a record answers (other patients
        // like this one, an option for this one, a count, a trend, a comparison,
        // whether something happened): no definition, whatever term it names ("In the
        // prior 24 months has the ALT risen?" is no question about what ALT is).
        let defines = defines(&q);
        let about_record = about_record
            || (window.is_some() && asks != Asks::Definition)
            || matches!(
                asks,
                Asks::TreatmentOption
                    | Asks::CohortOutcome
                    | Asks::CohortProfile
                    | Asks::Count
                    | Asks::Trend
                    | Asks::Comparison
                    | Asks::Existence
                    | Asks::Alerts
            ) && !defines;
        let time_point = crate::vocabulary::time_point_named_in(question);
        Reading { asks, concept, window, cohort_size: cohort_size_named_in(question, 1..=1000), time_point, about_record, words }
    }

    /// The cohort outcomes (DESIGN.md's) the question asks about, in the order of
    /// [`OutcomeAsked`]; empty when it names none ("how did they fare?"). What a
    /// cohort answer's lead is written from ([`crate::Facts::for_lead`]): asked about
    /// flares, a lead over seven outcomes' figures was too long for a small model to
    /// copy one from.
    pub fn outcomes_asked(&self) -> Vec<OutcomeAsked> {
        let q = Words(&self.words);
        let mut asked = Vec::new();
        // How patients did or fared on a drug, asking after no other outcome, is how
        // they responded to it ("How did patients similar to him do on methotrexate?").
        let other_outcome = self.concept == Some(Concept::Flare)
            || self.concept == Some(Concept::DiseaseActivity)
            || q.stem(&["flare", "switch", "chang", "stopp", "discontinu"]);
        let fared = !other_outcome && q.any(&["fare", "fared", "faring", "do", "did", "doing", "done", "went", "go"]);
        let responds = fared || q.stem(&["respon", "work", "improv", "benefit", "succeed", "success", "fail"]);
        if let (Some(group), true) = (self.drug_group(), responds) {
            // The group holds methotrexate, or a TNF inhibitor, by the drug table.
            let holds_any = |of: fn(&Drug) -> bool| DRUGS.iter().filter(|d| of(d)).any(|d| group.holds(d.name, Some(d)));
            if holds_any(Drug::is_methotrexate) {
                asked.push(OutcomeAsked::MtxResponse);
            }
            if holds_any(|d| d.class == DrugClass::TnfInhibitor) {
                asked.push(OutcomeAsked::TnfiResponse);
            }
        }
        if self.concept == Some(Concept::Flare) || q.stem(&["flare"]) {
            asked.push(OutcomeAsked::Flare);
        }
        if self.concept == Some(Concept::DiseaseActivity) && !asked.contains(&OutcomeAsked::Flare) {
            // A day named ("at one year") asks that day's figure alone.
            use twin_core::cohort::Outcome;
            let day = self.time_point.and_then(|t| {
                Outcome::ALL.into_iter().filter_map(Outcome::das28_day).find(|d| d.abs_diff(t) <= DAS28_DAY_TOLERANCE)
            });
            asked.push(day.map_or(OutcomeAsked::Das28, OutcomeAsked::Das28At));
        }
        let changed = q.stem(&["switch", "chang", "stopp", "discontinu"])
            && (q.stem(&["switch"]) || q.any(&["treatment", "therapy", "drug", "medication", "medicine", "regimen"]));
        if changed {
            asked.push(OutcomeAsked::Switch);
        }
        asked
    }

    /// The categories a yes/no or either/or question about a value, a trend or a
    /// comparison asks after, in the question's order ("Is the ALT rising?": rising;
    /// "Has her haemoglobin improved?": rising, since a falling haemoglobin is worse;
    /// "Did the DAS28 go up or down?": rising, falling; "Has her ALT shifted?":
    /// [`crate::vocabulary::CHANGED`]), by [`crate::vocabulary::CATEGORIES`] and the
    /// measure's worse direction ([`Reading::worse_when`]). A question with no
    /// wh-word and an auxiliary anywhere ("In the prior 24 months has the ALT
    /// risen?") is yes/no. What a lead is asked to answer ([`crate::Facts::verdict`]):
    /// a small model echoed the question's word over the facts' ("rising ... trend
    /// stable").
    pub fn categories_asked(&self) -> Vec<&'static str> {
        const AUXILIARIES: &[&str] = &["is", "are", "was", "were", "has", "have", "had", "does", "did", "do"];
        const WH: &[&str] = &["what", "which", "how", "when", "where", "who", "whom", "whose", "why", "whether"];
        // Clinicians' shorthand drops the auxiliary ("Hb last 4 - falling?", "crp up or
        // down vs last time?"): with no wh-word, a category asked about a measure's
        // trend or comparison is asked all the same.
        let auxiliary = self.words.iter().any(|w| AUXILIARIES.contains(&w.as_str()));
        let shorthand = matches!(self.asks, Asks::Trend | Asks::Comparison);
        let yes_no = (auxiliary || shorthand) && !self.words.iter().any(|w| WH.contains(&w.as_str()));
        // "Which way did the ESR go?", "in what direction": either direction.
        let q = Words(&self.words);
        if shorthand && q.any(&["which way", "what way", "what direction", "which direction"]) {
            return vec!["rising", "falling"];
        }
        if !yes_no || !matches!(self.asks, Asks::Value | Asks::Trend | Asks::Comparison) {
            return Vec::new();
        }
        let worse = self.worse_when();
        let mut asked = Vec::new();
        let words = &self.words;
        for category in (0..words.len()).filter_map(|i| crate::vocabulary::category_asked_at(words, i, worse)) {
            if !asked.contains(&category) {
                asked.push(category);
            }
        }
        asked
    }

    /// Which way the measure asked about moves when the patient gets worse: DAS28's
    /// and a lab test's ([`LabTest::worse_when`]); `None` for any other concept, or a
    /// lab question naming no one test.
    pub fn worse_when(&self) -> Option<journey::clinical::Worse> {
        match &self.concept {
            Some(Concept::DiseaseActivity) => Some(journey::clinical::das28::WORSE),
            Some(Concept::Lab { test: Some(test) }) => test.worse_when(),
            _ => None,
        }
    }

    /// The treatment option a question weighs, when it names one: the option of the
    /// drug, class or target named when they are all one option ("a JAK inhibitor",
    /// "tocilizumab"), else staying on the current treatment when it says so ("if we
    /// kept the current regimen"); `None` when it names none or several ("a biologic").
    pub fn option_asked(&self) -> Option<TreatmentOption> {
        if let Some(group) = self.drug_group() {
            let mut options: Vec<TreatmentOption> =
                DRUGS.iter().filter(|d| group.holds(d.name, Some(d))).filter_map(TreatmentOption::of_drug).collect();
            options.sort();
            options.dedup();
            return match options.as_slice() {
                [one] => Some(*one),
                _ => None,
            };
        }
        let q = Words(&self.words);
        let stays = q.any(&[
            "current regimen", "current treatment", "current therapy", "unchanged", "as is", "as it is",
            "not changing", "not change", "no change", "no changes", "nothing changed", "carry on", "carrying on",
            "status quo", "same treatment", "same regimen", "same drugs", "do nothing", "doing nothing", "hold off",
            "holding off",
        ]) || q.stem(&["kept", "keep", "continu", "stay", "remain"]);
        stays.then_some(TreatmentOption::Continue)
    }

    /// The lab test named, when exactly one is.
    pub fn lab_test(&self) -> Option<LabTest> {
        match &self.concept {
            Some(Concept::Lab { test }) => *test,
            _ => None,
        }
    }

    /// The drugs named, when a drug, brand or class is.
    pub fn drug_group(&self) -> Option<&DrugGroup> {
        match &self.concept {
            Some(Concept::Drugs { group }) => group.as_ref(),
            _ => None,
        }
    }

    /// Whether the question asks after one datum: a wh-question ("What is her blood
    /// type?", "Who is her insurer?") or a yes/no one ("Did he have a colonoscopy?"),
    /// rather than an open request ("Anything I should keep in mind?").
    pub fn asks_for_one_datum(&self) -> bool {
        self.words.first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "what" | "what's" | "which" | "who" | "who's" | "whose" | "where" | "when" | "did" | "does" | "do"
                    | "is" | "was" | "has" | "had" | "have"
            )
        })
    }

    /// Whether the question is about the patient's own record facts (value, existence,
    /// count, trend, comparison): what the record tools state.
    pub fn asks_record_fact(&self) -> bool {
        matches!(self.asks, Asks::Value | Asks::Existence | Asks::Count | Asks::Trend | Asks::Comparison)
    }
}

/// The question's words with the lookups the rules need.
struct Words<'a>(&'a [String]);

impl Words<'_> {
    /// Whether the words hold `phrase` (words separated by single spaces), each word
    /// whole or with a plural `s`.
    fn has(&self, phrase: &str) -> bool {
        let phrase: Vec<&str> = phrase.split(' ').collect();
        self.0.windows(phrase.len()).any(|w| w.iter().zip(&phrase).all(|(a, b)| same_word(a, b)))
    }

    fn any(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| self.has(p))
    }

    /// Whether a word starts with one of `stems` ("improv" for improving, improved).
    fn stem(&self, stems: &[&str]) -> bool {
        self.0.iter().any(|w| stems.iter().any(|s| w.starts_with(s)))
    }

    fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }
}

fn same_word(asked: &str, word: &str) -> bool {
    asked == word || asked.strip_suffix('s') == Some(word) || asked.strip_suffix("es") == Some(word)
}

/// Words that point at one patient's record (moved here from the assistant so the
/// reading carries it: a question about the record is never a definition).
const RECORD_WORDS: &[&str] = &[
    // the patient
    "she", "he", "her", "his", "him", "hers", "they", "their", "them", "patient", "patients",
    // time in the record
    "current", "currently", "now", "latest", "last", "recent", "recently", "today", "still", "ever", "previous",
    "previously", "since", "ago",
    // the record itself
    "record", "recorded", "reading", "readings", "visit", "visits", "tried", "taking", "received", "had",
];

/// Openers of a yes/no question about a particular thing ("Is the ESR raised?").
const STATE_OPENERS: &[&str] = &["is", "are", "has", "have", "was", "were", "did", "does"];

/// Whether the question points at the open patient's record rather than at what a
/// term means: a record word, or a yes/no question about "the" thing.
pub fn refers_to_record(question: &str) -> bool {
    points_at_record(&Words(&words_of(question)))
}

fn points_at_record(q: &Words) -> bool {
    let opener_the = matches!(q.0, [first, second, ..] if STATE_OPENERS.contains(&first.as_str()) && second == "the");
    opener_the || q.0.iter().any(|w| RECORD_WORDS.contains(&w.as_str()))
}

/// Class and group words, most specific first (a phrase before its words).
const DRUG_CLASS_WORDS: &[(&str, DrugGroup)] = &[
    ("non-tnf biologic", DrugGroup::Class(DrugClass::OtherBiologic)),
    ("non-tnf", DrugGroup::Class(DrugClass::OtherBiologic)),
    ("tnf inhibitor", DrugGroup::Class(DrugClass::TnfInhibitor)),
    ("tnf blocker", DrugGroup::Class(DrugClass::TnfInhibitor)),
    ("tnf-alpha inhibitor", DrugGroup::Class(DrugClass::TnfInhibitor)),
    ("anti-tnf", DrugGroup::Class(DrugClass::TnfInhibitor)),
    ("tnfi", DrugGroup::Class(DrugClass::TnfInhibitor)),
    ("tnf", DrugGroup::Class(DrugClass::TnfInhibitor)),
    ("jak inhibitor", DrugGroup::Class(DrugClass::JakInhibitor)),
    ("jaki", DrugGroup::Class(DrugClass::JakInhibitor)),
    ("jak", DrugGroup::Class(DrugClass::JakInhibitor)),
    ("tsdmard", DrugGroup::Class(DrugClass::JakInhibitor)),
    ("targeted synthetic", DrugGroup::Class(DrugClass::JakInhibitor)),
    ("il-6", DrugGroup::Target(Target::Il6Receptor)),
    ("il6", DrugGroup::Target(Target::Il6Receptor)),
    ("interleukin-6", DrugGroup::Target(Target::Il6Receptor)),
    ("anti-cd20", DrugGroup::Target(Target::Cd20)),
    ("b-cell depletion", DrugGroup::Target(Target::Cd20)),
    ("biologic", DrugGroup::Biologic),
    ("biological", DrugGroup::Biologic),
    ("bdmard", DrugGroup::Biologic),
    ("csdmard", DrugGroup::Class(DrugClass::Csdmard)),
    ("conventional dmard", DrugGroup::Class(DrugClass::Csdmard)),
    ("conventional synthetic", DrugGroup::Class(DrugClass::Csdmard)),
    ("dmard", DrugGroup::Dmard),
    ("disease-modifying", DrugGroup::Dmard),
    ("steroid", DrugGroup::Class(DrugClass::Glucocorticoid)),
    // Prednisone or prednisolone: the class, not a guess at one of them.
    ("pred", DrugGroup::Class(DrugClass::Glucocorticoid)),
    ("glucocorticoid", DrugGroup::Class(DrugClass::Glucocorticoid)),
    ("corticosteroid", DrugGroup::Class(DrugClass::Glucocorticoid)),
    ("immunosuppressant", DrugGroup::Class(DrugClass::Immunosuppressant)),
];

/// Words about drugs in general ("what is she taking?").
const MEDICATION_WORDS: &[&str] = &[
    "drug", "medication", "medicine", "treatment", "treated", "therapy", "therapies", "taking", "prescribed",
    "prescription", "on", "started", "stopped", "dose", "regimen", "med", "meds",
];

const FLARE_WORDS: &[&str] = &["flare", "flared", "flaring", "flare-up", "relapse", "relapsed"];

const ACTIVITY_WORDS: &[&str] = &[
    "das28", "das-28", "das", "disease activity", "activity", "remission", "cdai", "sdai", "swollen", "tender",
    "joint count", "active", "the disease", "her disease", "his disease", "their disease", "her arthritis",
    "his arthritis", "their arthritis", "the arthritis",
];

const LAB_WORDS: &[&str] = &["lab", "labs", "blood test", "blood work", "bloods", "inflammatory marker", "marker"];

/// The concept: a drug (by ingredient, brand, class), a lab test, flares, disease
/// activity, or drugs in general. A question naming a drug beside a measure ("the ALT
/// on methotrexate", "flares since starting adalimumab") has no single concept: `None`,
/// so routing falls back to similarity rather than guessing which one is asked about.
fn concept_of(question: &str, q: &Words) -> Option<Concept> {
    // A drug by its full name ("folic acid"), else by a word that names one (an
    // ingredient, a brand, an abbreviation: the terminology's `by_word`).
    let named_drug = DRUGS
        .iter()
        .find(|d| q.has(d.name))
        .or_else(|| q.0.iter().find_map(|w| by_word(w)))
        .map(|d| DrugGroup::Drug(d.name.to_owned()));
    let named_class = DRUG_CLASS_WORDS.iter().find(|(w, _)| q.has(w)).map(|(_, g)| g.clone());
    // A class named beside a drug is the group asked, the drug an instance of it
    // ("prednisolone or any other corticosteroid", "a TNF inhibitor such as
    // adalimumab"); "any DMARD" beside a drug is too wide to be what is asked.
    let drug = match (named_drug, named_class) {
        (Some(drug), Some(DrugGroup::Dmard)) => Some(drug),
        (drug, class) => class.or(drug),
    };
    let labs = lab_tests_named_in(question);
    let measure = if !labs.is_empty() || q.any(LAB_WORDS) {
        let test = match labs.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        Some(Concept::Lab { test })
    } else if q.any(FLARE_WORDS) {
        Some(Concept::Flare)
    } else if q.any(ACTIVITY_WORDS) {
        Some(Concept::DiseaseActivity)
    } else {
        None
    };
    match (drug, measure) {
        (Some(_), Some(_)) => None,
        (Some(group), None) => Some(Concept::Drugs { group: Some(group) }),
        (None, Some(measure)) => Some(measure),
        (None, None) => {
            // "on" alone is a drug word only in "on a / on any / is she on".
            let on_drug = q.any(&["on a", "on an", "on any", "she on", "he on", "they on", "patient on"]);
            let general = MEDICATION_WORDS.iter().filter(|w| **w != "on").any(|w| q.has(w));
            (general || on_drug).then_some(Concept::Drugs { group: None })
        }
    }
}

/// Readings-like nouns a "last N ..." counts.
const VISIT_UNITS: &[&str] = &[
    "visit", "reading", "appointment", "measurement", "assessment", "value", "result", "test", "check", "consultation",
    "review", "encounter", "clinic", "score", "sample", "level",
];

/// The span named: the last N visits (or a few), or a look-back in days.
fn window_of(question: &str, q: &Words) -> Option<Window> {
    let w = q.0;
    for (i, word) in w.iter().enumerate() {
        if !matches!(word.as_str(), "last" | "past" | "previous" | "recent" | "latest" | "final" | "most") {
            continue;
        }
        // "last three visits", "last few DAS28 readings", "last couple of visits",
        // "recent visits": a count (or none: a few) and a visit noun within three words.
        let ahead: Vec<&str> = w[i + 1..].iter().take(4).map(String::as_str).collect();
        let Some(unit_at) = ahead.iter().position(|a| VISIT_UNITS.iter().any(|u| same_word(a, u))) else {
            continue;
        };
        let plural = ahead[unit_at].ends_with('s');
        // The count after the word ("last three visits") or just before it ("his 4
        // latest readings", "three most recent visits").
        let before = (i > 0).then(|| w[i - 1].as_str()).into_iter();
        let count = ahead[..unit_at].iter().copied().chain(before).find_map(|a| match a {
            "few" | "several" | "some" | "handful" => Some(FEW_VISITS),
            "couple" => Some(2),
            a => crate::vocabulary::number_named(a),
        });
        match count {
            Some(n) if n >= 1 => return Some(Window::LastVisits(n)),
            None if plural => return Some(Window::LastVisits(FEW_VISITS)),
            _ => {}
        }
    }
    // A count of two or more right after the word ("last 5 CRPs", "Hb last 4",
    // "most recent 4 bloods") counts readings unless days, weeks, months or years
    // follow it ("last 3 months" is a span).
    for (i, word) in w.iter().enumerate() {
        let skip = match word.as_str() {
            "last" | "past" | "previous" | "latest" => 0,
            "most" if w.get(i + 1).is_some_and(|r| r == "recent") => 1,
            _ => continue,
        };
        let Some(n) = w.get(i + 1 + skip).and_then(|a| crate::vocabulary::number_named(a)) else { continue };
        let span = w.get(i + 2 + skip).is_some_and(|u| crate::vocabulary::is_time_unit(u));
        if n >= 2 && !span {
            return Some(Window::LastVisits(n));
        }
    }
    window_named_in(question).map(Window::Days)
}

const COHORT_WORDS: &[&str] = &[
    "similar", "comparable", "patients like", "people like", "others like", "other patients", "other people",
    "cohort", "neighbour", "neighbor", "neighbourhood", "neighborhood", "historical patients", "in silico",
    "like her", "like him", "like his", "like hers", "like them", "like this", "like these", "matched",
    "look-alike", "lookalike", "matching patients", "closest matching", "resemble her", "resemble him",
    "resembles her", "resembles him", "resembled hers", "resembled his", "resembling her", "resembling him",
];

/// Words that ask how a cohort fared: with them, "patients who resemble her" is the
/// cohort whose outcome is asked, not a question of what they share.
const OUTCOME_WORDS: &[&str] = &[
    "proportion", "fraction", "share of", "percent", "percentage", "rate", "how many", "how likely", "likelihood",
    "fare", "fared", "outcome", "outcomes", "happened", "did they", "do on", "did on", "achieved", "achieve",
];

/// What a cohort shares rather than how it fared.
/// ("share" only as a verb: "what share of similar patients" asks a proportion.)
const PROFILE_WORDS: &[&str] = &[
    "in common", "share with", "they share", "patients share", "do they share", "shared", "why", "typical",
    "makes them", "resemble", "characterise", "characterises", "characterize", "characterizes", "over-represented",
    "overrepresented",
];

const OPTION_WORDS: &[&str] = &[
    "option", "what if", "switch", "switching", "instead", "alternative", "should we", "should i", "should she",
    "should he", "next line", "escalate", "escalation", "step up", "add on", "add a", "which treatment",
    "which drug", "which therapy", "which biologic", "which medication", "best treatment", "best option",
    "do best", "did best", "work best", "worked best", "choose", "choice", "try next", "consider", "recommend",
    "staying on", "stay on", "remain on", "remaining on", "therapy options", "treatment options", "look best",
    "worth", "thinking of", "considering", "rechallenge", "re-challenge", "re-challenging", "rechallenging",
];

/// Words that ask after RDT's early alerts on the record.
const ALERT_WORDS: &[&str] = &["alert", "alerts", "early warning", "early warnings", "warning flag", "warning flags"];

const FORECAST_WORDS: &[&str] = &[
    "will", "chance", "likely", "likelihood", "probability", "forecast", "predict", "predicted", "prediction",
    "prognosis", "expect", "expected", "future", "going to", "in a year", "outlook",
];

const COUNT_WORDS: &[&str] =
    &["how many", "how often", "number of", "no of", "how frequently", "count of", "total of"];

const COMPARISON_WORDS: &[&str] = &[
    "compare", "compared", "comparison", "than", "versus", "vs", "difference", "differ", "at baseline",
    "at diagnosis", "before and after", "back in", "ago", "relative to", "day back", "week back", "month back",
    "year back",
];

/// Phrases that compare a measure's latest value with the one before; read as a
/// comparison only of a measure (a lab test, the DAS28): "any flares since the last
/// visit?" asks whether flares happened.
const MEASURE_COMPARISON_PHRASES: &[&str] = &[
    "against", "since the previous", "since the last",
    "since the prior", "the one before", "the visit before", "the time before", "before that", "previous one",
    "prior one", "last one", "previous result", "previous value", "previous reading", "previous test",
    "previous score", "prior result", "prior value", "prior reading", "prior test", "prior score", "last time",
    "preceding result", "preceding value", "preceding reading", "preceding test", "preceding one", "earlier",
    "back then",
];

const TREND_WORDS: &[&str] = &[
    "trend", "trending", "rising", "rise", "risen", "rose", "falling", "fall", "fallen", "fell", "going up",
    "going down", "gone up", "gone down", "come down", "change", "changed", "changing", "trajectory", "evolve",
    "evolved", "evolution", "stable", "steady", "over time", "moved", "moving", "direction", "creeping",
    "settled", "better", "worse", "heading", "calming", "calm down", "settling", "settle", "shifted", "behaved",
    "behaving", "evolving", "developing", "developed", "drift", "drifted", "drifting",
];

const TREND_STEMS: &[&str] = &["improv", "worsen", "increas", "decreas", "progress", "deteriorat", "climb", "drop"];

const EXISTENCE_WORDS: &[&str] = &[
    "ever", "any", "previously", "tried", "received", "been on", "been given", "exposed", "history of", "at any",
    "at all", "never", "at some point", "at some stage", "in the past",
];

/// Past-tense words that ask whether a drug was given ("Was abatacept started?",
/// "Did he take sulfasalazine?"): existence only of a drug, class or group.
const DRUG_EXISTENCE_WORDS: &[&str] =
    &["started", "given", "prescribed", "used", "taken", "took", "take", "had", "on record", "record of"];

/// Time words that make a question one about the current value, even one that
/// names no patient ("Where does the sed rate stand at present?").
const VALUE_WORDS: &[&str] = &[
    "latest", "last", "current", "currently", "now", "most recent", "newest", "today", "present", "at the moment",
    "these days",
];

const SUMMARY_WORDS: &[&str] = &[
    "summary", "summarise", "summarize", "overview", "tell me about", "background", "who is this", "who is she",
    "who is he", "who is the patient", "how is she doing", "how is he doing", "how are they doing", "anything",
    "male", "female", "man or woman",
    "age", "old",
    "sex", "gender", "diagnosis", "diagnoses", "diagnosed", "note", "notes", "history", "profile",
];

/// Whether the question asks what something means: a definition word, "mean" as the
/// verb ("What does DAS28 mean?", "what do you mean by remission") and not the
/// statistic ("mean DAS28 at 9 months", "the mean of their CRP").
fn defines(q: &Words) -> bool {
    let w = q.0;
    let verb_mean = w.iter().enumerate().any(|(i, word)| {
        word == "mean"
            && !(i > 0 && matches!(w[i - 1].as_str(), "the" | "a"))
            && w.get(i + 1).is_none_or(|next| matches!(next.as_str(), "by" | "for" | "that" | "to" | "in"))
    });
    verb_mean || DEFINITION_WORDS.iter().any(|d| *d != "mean" && q.has(d))
}

const DEFINITION_WORDS: &[&str] =
    &["mean", "means", "meaning", "define", "defined", "definition", "counts as", "count as", "criteria", "cut-off"];

/// What is asked, by rules in a fixed order: the cohort (what it shares, then a
/// choice, then how it fared) and option questions first
/// (they are about other patients or a choice, whatever they mention), then the
/// forecast, the definition, then the record facts from the most to the least
/// specific (count, comparison, trend, existence, a window's trend, value), then the
/// summary. A bare concept is a value only in a question about the record: "Is DAS28
/// a composite score?" names a concept and asks no value of this patient.
fn asks_of(q: &Words, concept: Option<&Concept>, window: Option<Window>, about_record: bool) -> Asks {
    let cohort = q.any(COHORT_WORDS) || q.any(&["others", "people", "cases"]) || plural_patients(q);
    let fared = q.any(OUTCOME_WORDS) || q.stem(&["respon", "flare", "switch"]);
    if cohort && q.any(PROFILE_WORDS) && !fared {
        return Asks::CohortProfile;
    }
    // "Which drugs ..." chooses only when nothing says now: "Which medications is
    // she taking these days?" asks what she is on.
    let now = q.any(VALUE_WORDS) || q.any(&["taking", "these days", "on at the moment"]);
    // How many similar patients switched is an outcome of the cohort, not a choice.
    let switch_outcome = |w: &str| cohort && fared && matches!(w, "switch" | "switching");
    let choosing = OPTION_WORDS.iter().any(|w| q.has(w) && !(now && w.starts_with("which ")) && !switch_outcome(w));
    let option = choosing || hypothetical_treatment(q, concept);
    if option && (cohort || matches!(concept, Some(Concept::Drugs { .. }) | None)) {
        return Asks::TreatmentOption;
    }
    if cohort {
        return Asks::CohortOutcome;
    }
    if q.any(ALERT_WORDS) {
        return Asks::Alerts;
    }
    let recorded_past = q.any(&["was", "were", "did", "has", "have", "had", "been"]);
    if q.any(FORECAST_WORDS) && !recorded_past {
        return Asks::Forecast;
    }
    let what_is_a = matches!(q.0, [w, is, a, ..] if w == "what" && matches!(is.as_str(), "is" | "are") && matches!(a.as_str(), "a" | "an"));
    if !about_record && (defines(q) || what_is_a || bare_what_is(q, concept)) {
        return Asks::Definition;
    }
    if q.any(COUNT_WORDS) || q.has("times") && q.first().is_some_and(|f| f == "how") {
        return Asks::Count;
    }
    let measure = matches!(concept, Some(Concept::Lab { .. } | Concept::DiseaseActivity));
    if q.any(COMPARISON_WORDS) || (measure && q.any(MEASURE_COMPARISON_PHRASES)) {
        return Asks::Comparison;
    }
    if q.any(TREND_WORDS) || q.stem(TREND_STEMS) {
        return Asks::Trend;
    }
    let drug_named = matches!(concept, Some(Concept::Drugs { group: Some(_) }));
    if q.any(EXISTENCE_WORDS) || (drug_named && q.any(DRUG_EXISTENCE_WORDS)) {
        return Asks::Existence;
    }
    if window.is_some() && concept.is_some() {
        return Asks::Trend;
    }
    let general = matches!(concept, None | Some(Concept::Drugs { group: None }) | Some(Concept::Lab { test: None }));
    if general && q.any(SUMMARY_WORDS) {
        return Asks::Summary;
    }
    if q.any(VALUE_WORDS) || (concept.is_some() && about_record) {
        return Asks::Value;
    }
    Asks::Unknown
}

/// Words that pose a hypothetical ("what would ...", "if we ...").
const HYPOTHETICAL_WORDS: &[&str] = &[
    "would", "might", "if we", "if she", "if he", "if they", "if the patient", "were we to", "expected effect",
    "likely effect", "what happens if", "suppose", "supposing",
];

/// Stems of acting on a treatment ("adding", "start", "moved onto", "kept", "staying on").
const TREATMENT_ACTION_STEMS: &[&str] =
    &["add", "start", "switch", "mov", "put", "kept", "keep", "stay", "continu", "escalat", "initiat", "begin", "gave", "giv"];

/// A treatment posed as a hypothetical for this patient: "What would adding a JAK
/// inhibitor do for her?", "If we moved him onto tocilizumab, how might he respond?",
/// "How would he fare if we kept the current regimen?". A hypothetical with an action
/// on a treatment, or naming a drug; about a measure it is a forecast, not an option.
fn hypothetical_treatment(q: &Words, concept: Option<&Concept>) -> bool {
    let measure = matches!(concept, Some(Concept::Lab { .. } | Concept::DiseaseActivity | Concept::Flare));
    let drug_named = matches!(concept, Some(Concept::Drugs { group: Some(_) }));
    let acts = q.stem(TREATMENT_ACTION_STEMS) && (drug_named || q.any(MEDICATION_WORDS) || q.any(&["current regimen"]));
    !measure && q.any(HYPOTHETICAL_WORDS) && (acts || drug_named)
}

/// "patients" said of others: the plural with no "this"/"the" patient beside it.
fn plural_patients(q: &Words) -> bool {
    q.0.iter().any(|w| w == "patients") && !q.any(&["this patient", "the patient"])
}

/// "What is DAS28?", "What are ACPA?": a short what-is question naming a concept, no
/// article (with "the" it is the patient's value: "What is the CRP?").
fn bare_what_is(q: &Words, concept: Option<&Concept>) -> bool {
    matches!(q.0, [w, is, next, ..] if w == "what" && matches!(is.as_str(), "is" | "are") && next != "the")
        && q.0.len() <= 5
        && concept.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One question, read: what it asks, and optionally its concept and window.
    fn check(question: &str, asks: Asks, concept: Option<Concept>, window: Option<Window>) {
        let r = Reading::of(question);
        assert_eq!(r.asks, asks, "{question}: {r:?}");
        if concept.is_some() {
            assert_eq!(r.concept, concept, "{question}");
        }
        assert_eq!(r.window, window, "{question}");
    }

    fn lab(test: LabTest) -> Option<Concept> {
        Some(Concept::Lab { test: Some(test) })
    }

    fn drugs(group: DrugGroup) -> Option<Concept> {
        Some(Concept::Drugs { group: Some(group) })
    }

    /// The cohort outcomes a question asks about, from its concept and words; none
    /// when it names none, and no switch in a DAS28 "change".
    #[test]
    fn a_yes_no_question_asks_after_a_category() {
        let asked = |q: &str| Reading::of(q).categories_asked();
        assert_eq!(asked("Is the ALT rising?"), ["rising"]);
        assert_eq!(asked("Is her haemoglobin low?"), ["low"]);
        assert_eq!(asked("Has the DAS28 been improving lately?"), ["falling"]);
        assert_eq!(asked("Has her haemoglobin improved since the previous test?"), ["rising"], "a falling Hb is worse");
        assert_eq!(asked("Is the ESR worse than 3 months ago?"), ["rising"]);
        assert_eq!(asked("Is the ESR elevated?"), ["high"]);
        assert_eq!(asked("In the prior 24 months has the ALT risen?"), ["rising"], "an auxiliary after a phrase");
        assert_eq!(asked("Across her three latest visits, did the DAS28 go up or down?"), ["rising", "falling"]);
        assert_eq!(asked("Has her ALT shifted during her final four checks?"), [crate::vocabulary::CHANGED]);
        assert!(asked("Has the rheumatoid factor improved?").is_empty(), "an antibody is not better or worse");
        assert!(asked("What is the latest ALT?").is_empty(), "not a yes/no question");
        assert!(asked("Past 3 months: how is her CRP going?").is_empty(), "a wh-question");
        assert_eq!(asked("Past 3 months: which way is her CRP going?"), ["rising", "falling"], "which way: either");
        assert!(asked("Is the CRP measured often?").is_empty(), "no category");
        assert!(asked("Do patients like her do better on methotrexate?").is_empty(), "a cohort question");
        // Shorthand with no auxiliary asks all the same, of a trend or a comparison.
        assert_eq!(asked("ESR last 3 - rising?"), ["rising"]);
        assert_eq!(asked("DAS28 vs a year ago: up or down?"), ["rising", "falling"]);
        assert!(asked("Latest CRP, high?").is_empty(), "a value in shorthand is not read as yes/no");
        assert_eq!(asked("Which way has her CRP gone over the last four results?"), ["rising", "falling"]);
        assert_eq!(asked("Any drift in the ESR over the past year?"), [crate::vocabulary::CHANGED]);
    }

    #[test]
    fn outcomes_asked() {
        use OutcomeAsked::*;
        let asked = |q: &str| Reading::of(q).outcomes_asked();
        assert_eq!(asked("What share of similar patients responded to methotrexate at 6 months?"), vec![MtxResponse]);
        assert_eq!(asked("Did look-alike patients do well on MTX?"), vec![MtxResponse], "how they did on a drug");
        assert_eq!(asked("How did historical patients similar to him do on methotrexate?"), vec![MtxResponse]);
        assert_eq!(asked("How did similar patients fare on a TNF inhibitor?"), vec![TnfiResponse]);
        // A DAS28 at a named day asks that day's figure; a time between the days asks them all.
        assert_eq!(asked("Matched cohort, mean DAS28 at 9 months?"), vec![Das28At(270)]);
        assert_eq!(asked("Show me where similar patients' DAS28 landed at one year."), vec![Das28At(360)]);
        assert_eq!(asked("Similar patients' DAS28 at 6 months?"), vec![Das28]);
        assert_eq!(asked("Did similar patients on methotrexate flare?"), vec![Flare], "another outcome asked");
        assert_eq!(asked("How many comparable patients benefited from adalimumab?"), vec![TnfiResponse]);
        assert_eq!(asked("Did an anti-TNF agent work for patients like her?"), vec![TnfiResponse]);
        assert_eq!(asked("How often do similar patients flare within 6 months?"), vec![Flare]);
        assert_eq!(asked("Where did the DAS28 of matched patients end up after a year?"), vec![Das28At(360)], "a day named");
        assert_eq!(asked("How many comparable patients changed treatment within 12 months?"), vec![Switch]);
        assert_eq!(asked("What fraction of similar patients switched?"), vec![Switch]);
        assert_eq!(asked("How did the DAS28 change in similar patients?"), vec![Das28]);
        assert_eq!(asked("How did people with a profile like hers fare afterwards?"), Vec::<OutcomeAsked>::new());
    }

    #[test]
    fn latest_values() {
        check("Current meds for him?", Asks::Value, Some(Concept::Drugs { group: None }), None);
        check("Latest creat?", Asks::Value, lab(LabTest::Creatinine), None);
        check("Her newest C-reactive protein, please.", Asks::Value, lab(LabTest::Crp), None);
        check("Where does the sed rate stand at present?", Asks::Value, lab(LabTest::Esr), None);
        check("What is he on right now?", Asks::Value, Some(Concept::Drugs { group: None }), None);
        check("Which DAS28 category was recorded most recently?", Asks::Value, Some(Concept::DiseaseActivity), None);
    }

    #[test]
    fn existence() {
        check("Was a biologic ever started for him?", Asks::Existence, drugs(DrugGroup::Biologic), None);
        check(
            "Has she at any point received an anti-TNF agent?",
            Asks::Existence,
            drugs(DrugGroup::Class(DrugClass::TnfInhibitor)),
            None,
        );
        check("Any exposure to Actemra in his chart?", Asks::Existence, drugs(DrugGroup::Drug("tocilizumab".into())), None);
        check("Did she ever go on a JAK inhibitor?", Asks::Existence, drugs(DrugGroup::Class(DrugClass::JakInhibitor)), None);
        check("Were there any flare-ups documented for him?", Asks::Existence, Some(Concept::Flare), None);
        // Abbreviations and spellings through the terminology; "pred" is the class.
        check("Was SSZ tried at some point?", Asks::Existence, drugs(DrugGroup::Drug("sulfasalazine".into())), None);
        check("Sulphasalazine for him in the past?", Asks::Existence, drugs(DrugGroup::Drug("sulfasalazine".into())), None);
        check("Any pred in her chart?", Asks::Existence, drugs(DrugGroup::Class(DrugClass::Glucocorticoid)), None);
    }

    #[test]
    fn counts() {
        check("How many creatinine results are on file?", Asks::Count, lab(LabTest::Creatinine), None);
        check("Number of disease flares documented so far?", Asks::Count, Some(Concept::Flare), None);
        check("How often was DAS28 measured over the past two years?", Asks::Count, None, Some(Window::Days(730)));
        check("How many different DMARDs has he been given?", Asks::Count, drugs(DrugGroup::Dmard), None);
        check("No. of ESRs on file for her?", Asks::Count, lab(LabTest::Esr), None);
    }

    #[test]
    fn trends_over_visits_and_windows() {
        check("Across her last few appointments, where has the CRP been heading?", Asks::Trend, lab(LabTest::Crp), Some(Window::LastVisits(FEW_VISITS)));
        check("Look at the final four ESR results: up or down?", Asks::Trend, lab(LabTest::Esr), Some(Window::LastVisits(4)));
        check("Is the haemoglobin improving?", Asks::Trend, lab(LabTest::Haemoglobin), None);
        check("DAS28 across the previous couple of visits?", Asks::Trend, Some(Concept::DiseaseActivity), Some(Window::LastVisits(2)));
        check("How did his disease activity move during the past 9 months?", Asks::Trend, Some(Concept::DiseaseActivity), Some(Window::Days(270)));
        check("Liver enzymes in recent visits: creeping upward?", Asks::Trend, None, Some(Window::LastVisits(FEW_VISITS)));
        // A bare count after "last" counts readings; with a unit of time it is a span.
        check("ESR last 3 - rising?", Asks::Trend, lab(LabTest::Esr), Some(Window::LastVisits(3)));
        check("Her most recent 5 bloods: is the ALT stable?", Asks::Trend, lab(LabTest::Alt), Some(Window::LastVisits(5)));
        check("Trend of the last 6 CRPs?", Asks::Trend, lab(LabTest::Crp), Some(Window::LastVisits(6)));
        check("CRP trend over the last 3 months?", Asks::Trend, lab(LabTest::Crp), Some(Window::Days(90)));
        check("ESR over the past 2 yrs: drifting?", Asks::Trend, lab(LabTest::Esr), Some(Window::Days(730)));
        check("Hb in the last 6 mths?", Asks::Trend, lab(LabTest::Haemoglobin), Some(Window::Days(180)));
    }

    #[test]
    fn comparisons() {
        check("Is her ESR lower than at diagnosis?", Asks::Comparison, lab(LabTest::Esr), None);
        check("DAS28 now versus two years ago?", Asks::Comparison, Some(Concept::DiseaseActivity), Some(Window::Days(730)));
        check("Her CRP relative to a year back?", Asks::Comparison, lab(LabTest::Crp), Some(Window::Days(365)));
        // Against the value before (no span: the previous one), or a span back.
        check("Has the CRP dropped since the previous test?", Asks::Comparison, lab(LabTest::Crp), None);
        check("Is the DAS28 better than at the last visit?", Asks::Comparison, Some(Concept::DiseaseActivity), None);
        check("Her ESR against the one before?", Asks::Comparison, lab(LabTest::Esr), None);
        check("Is the haemoglobin up on 6 months earlier?", Asks::Comparison, lab(LabTest::Haemoglobin), Some(Window::Days(180)));
        // "since the last visit" of flares asks whether they happened, no comparison.
        assert_ne!(Reading::of("Any flares since the last visit?").asks, Asks::Comparison);
        // A comparison is about the record: never the glossary, whatever term it names.
        assert!(Reading::of("ALT against the previous one?").about_record);
    }

    /// Spans named before the word, back from the latest, or as "preceding"/"prior".
    #[test]
    fn spans_named_every_way() {
        check("Which way is the CRP heading across his 4 latest readings?", Asks::Trend, lab(LabTest::Crp), Some(Window::LastVisits(4)));
        check("Over the preceding 18 months, is the DAS28 trending down?", Asks::Trend, Some(Concept::DiseaseActivity), Some(Window::Days(540)));
        let r = Reading::of("In the prior 24 months has the ALT risen?");
        assert_eq!((r.asks, r.window, r.about_record), (Asks::Trend, Some(Window::Days(720)), true));
        check("Is the disease calming down over her recent visits?", Asks::Trend, Some(Concept::DiseaseActivity), Some(Window::LastVisits(FEW_VISITS)));
    }

    /// A treatment posed as a hypothetical for this patient is an option to compare;
    /// a class named beside a drug is the group asked.
    #[test]
    fn hypothetical_treatments_and_classes_beside_drugs() {
        let class = |c| Some(Concept::Drugs { group: Some(DrugGroup::Class(c)) });
        check("What would adding a JAK inhibitor do for her?", Asks::TreatmentOption, class(DrugClass::JakInhibitor), None);
        check("If we moved him onto tocilizumab, how might he respond?", Asks::TreatmentOption, None, None);
        check("How would he fare if we kept the current regimen?", Asks::TreatmentOption, None, None);
        check("Expected effect of starting abatacept for her?", Asks::TreatmentOption, None, None);
        check("Did she ever get prednisolone or any other corticosteroid?", Asks::Existence, class(DrugClass::Glucocorticoid), None);
        check("Was a non-TNF biologic such as abatacept started?", Asks::Existence, class(DrugClass::OtherBiologic), None);
        // A hypothetical about a measure is a forecast, not an option.
        assert_ne!(Reading::of("Would her CRP fall if we started a biologic?").asks, Asks::Existence);
        // The cohort's outcome, asked of patients who resemble her.
        check("Among patients who resemble her, what proportion responded to methotrexate?", Asks::CohortOutcome, None, None);
        // The option weighed: the one a drug, class or target names, or staying put.
        let option = |q: &str| Reading::of(q).option_asked();
        assert_eq!(option("What would adding a JAK inhibitor do for her?"), Some(TreatmentOption::JakInhibitor));
        assert_eq!(option("If we moved him onto tocilizumab, how might he respond?"), Some(TreatmentOption::Il6Inhibitor));
        assert_eq!(option("How would he fare if we kept the current regimen?"), Some(TreatmentOption::Continue));
        assert_eq!(option("What if we hold off and change nothing for him?"), Some(TreatmentOption::Continue));
        assert_eq!(option("Staying put vs not changing anything: how do similar patients do?"), Some(TreatmentOption::Continue));
        assert_eq!(option("Should she start a biologic?"), None, "several options");
        // "Which medications ..." about now is the current drugs, not a choice.
        assert_eq!(Reading::of("Which medications is she taking these days?").asks, Asks::Value);
        // What a term means stays a definition question, whatever it names.
        assert!(!Reading::of("What does RDT count as a treatment switch?").about_record);
        assert_eq!(Reading::of("Is the patient male or female?").asks, Asks::Summary);
        // One datum the reader knows nothing of: no tool covers it.
        let r = Reading::of("What is her blood type?");
        assert!(r.asks == Asks::Unknown && r.concept.is_none() && r.asks_for_one_datum());
        assert!(!Reading::of("Anything I should keep in mind before I see her?").asks_for_one_datum());
    }

    #[test]
    fn cohort_outcomes() {
        check("How did people with a profile like hers fare afterwards?", Asks::CohortOutcome, None, None);
        check("What became of matched cases from the registry?", Asks::CohortOutcome, None, None);
        check("Among patients resembling him, how common was remission at a year?", Asks::CohortOutcome, None, None);
        check("What traits do the matched patients share with him?", Asks::CohortProfile, None, None);
        check("What share of comparable patients kept their biologic for a year?", Asks::CohortOutcome, None, None);
        // "mean" the statistic asks a figure of the cohort, not a definition.
        let mean = Reading::of("Similar patients: mean CRP at 6 months?");
        assert!(mean.asks == Asks::CohortOutcome && mean.about_record, "{mean:?}");
        assert_eq!(Reading::of("What does DAS28 mean?").asks, Asks::Definition);
        assert_eq!(Reading::of("What do you mean by remission?").asks, Asks::Definition);
        let r = Reading::of("Out of the 25 closest patients, how many flared?");
        assert_eq!((r.asks, r.cohort_size), (Asks::CohortOutcome, Some(25)));
        // How many switched is the cohort's outcome, not a switch to weigh; "%" is a word.
        check("What % of similar patients switched within a year?", Asks::CohortOutcome, None, None);
        assert_eq!(Reading::of("What % of similar patients switched within a year?").outcomes_asked(), vec![OutcomeAsked::Switch]);
    }

    #[test]
    fn treatment_options() {
        check("Which therapy should come next for her?", Asks::TreatmentOption, None, None);
        check("Should we start a JAK inhibitor for him?", Asks::TreatmentOption, None, None);
        check("If we went for Rinvoq instead, how would that look?", Asks::TreatmentOption, None, None);
        check("Is Cimzia worth a try for her?", Asks::TreatmentOption, None, None);
        check("Considering upadacitinib for him - likely benefit?", Asks::TreatmentOption, None, None);
        check("What alternatives to adalimumab are there for him?", Asks::TreatmentOption, None, None);
    }

    #[test]
    fn alert_questions_ask_for_the_alerts() {
        check("Are there any alerts for this patient?", Asks::Alerts, None, None);
        check("Has an early warning been raised on her?", Asks::Alerts, None, None);
    }

    #[test]
    fn forecasts_definitions_summaries_and_unknown() {
        check("Is she likely to reach remission within a year?", Asks::Forecast, None, None);
        check("What does a DAS28 above 5.1 mean?", Asks::Definition, None, None);
        check("What is a csDMARD?", Asks::Definition, None, None);
        check("Give me an overview of this patient.", Asks::Summary, None, None);
        check("How old is he?", Asks::Summary, None, None);
        check("Write me a limerick.", Asks::Unknown, None, None);
        check("What is this patient's eye colour?", Asks::Unknown, None, None);
        check("Where was she born?", Asks::Unknown, None, None);
        check("Will interest rates fall next week?", Asks::Forecast, None, None);
        assert!(!Reading::of("Will interest rates fall next week?").about_record);
        check("Is DAS28 a composite score?", Asks::Unknown, None, None);
        check("Any abnormal bloods at her last visit?", Asks::Existence, Some(Concept::Lab { test: None }), None);
        check("What are his diagnoses and current therapy?", Asks::Summary, None, None);
    }

    /// A bare "last visit" is a latest value, not a window; "last year" is 365 days,
    /// never a count of visits.
    #[test]
    fn windows_are_not_invented() {
        check("What was the CRP at the last visit?", Asks::Value, lab(LabTest::Crp), None);
        check("CRP trend over the last year?", Asks::Trend, lab(LabTest::Crp), Some(Window::Days(365)));
    }

    /// A drug beside a measure is no single concept: routing by similarity decides.
    #[test]
    fn a_drug_beside_a_measure_is_no_single_concept() {
        assert_eq!(Reading::of("Did the ESR settle once she went on Humira?").concept, None);
        assert_eq!(Reading::of("Any flares after he started etanercept?").concept, None);
    }

    #[test]
    fn groups_hold_their_drugs() {
        let toci = DRUGS.iter().find(|d| d.name == "tocilizumab");
        assert!(DrugGroup::Biologic.holds("tocilizumab", toci));
        assert!(!DrugGroup::Class(DrugClass::TnfInhibitor).holds("tocilizumab", toci));
        assert!(DrugGroup::Target(Target::Il6Receptor).holds("tocilizumab", toci));
        assert!(DrugGroup::Drug("Tocilizumab".into()).holds("tocilizumab", toci));
        assert!(DrugGroup::Drug("apremilast".into()).holds("Apremilast", None), "a drug outside the table, by name");
        assert_eq!(DrugGroup::Biologic.label(), "a biologic");
    }

    /// The reading is recorded with the question: it serialises without the words.
    #[test]
    fn a_reading_serialises_for_the_trail() {
        let r = Reading::of("Has she ever had a TNF inhibitor?");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["asks"], "existence");
        assert_eq!(v["concept"]["kind"], "drugs");
        assert_eq!(v["concept"]["group"]["class"], "tnf_inhibitor");
        assert!(v.get("words").is_none());
    }
}
