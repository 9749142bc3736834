//! `glossary`: vetted definitions, so knowledge questions ("what is a flare?") are
//! answered from text RDT controls, not from the model's memory.
//!
//! The clinical definitions are those the tools compute with (`das28.rs`,
//! `reference.rs`), so a definition and a computed fact never disagree. Drug entries
//! say what a drug is and how rheumatology uses it; they are not prescribing advice.

use audit_log::{Principal, Role};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use journey::PatientId;

use crate::bounded::Bounded;
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::facts::{said, Facts};
use crate::registry::ToolName;
use crate::scope::{check_role, Scope};
use crate::tool::Tool;
use crate::vocabulary::Vocabulary;

pub struct Glossary;

/// The terms the glossary defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    Das28,
    DiseaseActivityCategories,
    EularResponse,
    Flare,
    TreatmentSwitch,
    Crp,
    Esr,
    AltHepatotoxicity,
    Csdmard,
    Methotrexate,
    Hydroxychloroquine,
    Sulfasalazine,
    Leflunomide,
    Prednisone,
    TnfInhibitor,
    Adalimumab,
    Etanercept,
    Tocilizumab,
    Rituximab,
    Tofacitinib,
}

impl Term {
    pub const ALL: [Term; 20] = [
        Term::Das28,
        Term::DiseaseActivityCategories,
        Term::EularResponse,
        Term::Flare,
        Term::TreatmentSwitch,
        Term::Crp,
        Term::Esr,
        Term::AltHepatotoxicity,
        Term::Csdmard,
        Term::Methotrexate,
        Term::Hydroxychloroquine,
        Term::Sulfasalazine,
        Term::Leflunomide,
        Term::Prednisone,
        Term::TnfInhibitor,
        Term::Adalimumab,
        Term::Etanercept,
        Term::Tocilizumab,
        Term::Rituximab,
        Term::Tofacitinib,
    ];

    /// The name the model writes (the input's enum value).
    pub fn name(self) -> &'static str {
        match self {
            Term::Das28 => "das28",
            Term::DiseaseActivityCategories => "disease_activity_categories",
            Term::EularResponse => "eular_response",
            Term::Flare => "flare",
            Term::TreatmentSwitch => "treatment_switch",
            Term::Crp => "crp",
            Term::Esr => "esr",
            Term::AltHepatotoxicity => "alt_hepatotoxicity",
            Term::Csdmard => "csdmard",
            Term::Methotrexate => "methotrexate",
            Term::Hydroxychloroquine => "hydroxychloroquine",
            Term::Sulfasalazine => "sulfasalazine",
            Term::Leflunomide => "leflunomide",
            Term::Prednisone => "prednisone",
            Term::TnfInhibitor => "tnf_inhibitor",
            Term::Adalimumab => "adalimumab",
            Term::Etanercept => "etanercept",
            Term::Tocilizumab => "tocilizumab",
            Term::Rituximab => "rituximab",
            Term::Tofacitinib => "tofacitinib",
        }
    }

    /// The words by which a question names this term. A term's words are specific
    /// to it, except that an activity category ("remission") also names DAS28:
    /// [`Term::named_in`] resolves that by [`Term::BY_SPECIFICITY`].
    fn words(self) -> &'static [&'static str] {
        match self {
            Term::Das28 => &["das28", "das-28", "disease activity score"],
            Term::DiseaseActivityCategories => &[
                "remission", "low disease activity", "low activity", "moderate disease activity", "moderate activity",
                "high disease activity", "high activity", "activity category", "activity categories",
            ],
            Term::EularResponse => &["eular response", "eular"],
            Term::Flare => &["flare", "flares"],
            Term::TreatmentSwitch => &["treatment switch", "switch", "switching"],
            Term::Crp => &["crp", "c-reactive protein"],
            Term::Esr => &["esr", "sedimentation rate"],
            Term::AltHepatotoxicity => &["alt", "hepatotoxicity", "liver enzymes"],
            Term::Csdmard => &["csdmard", "csdmards", "conventional synthetic"],
            Term::Methotrexate => &["methotrexate"],
            Term::Hydroxychloroquine => &["hydroxychloroquine"],
            Term::Sulfasalazine => &["sulfasalazine", "sulphasalazine"],
            Term::Leflunomide => &["leflunomide"],
            Term::Prednisone => &["prednisone", "prednisolone"],
            Term::TnfInhibitor => &["tnf inhibitor", "tnf inhibitors", "anti-tnf", "tnfi"],
            Term::Adalimumab => &["adalimumab"],
            Term::Etanercept => &["etanercept"],
            Term::Tocilizumab => &["tocilizumab"],
            Term::Rituximab => &["rituximab"],
            Term::Tofacitinib => &["tofacitinib"],
        }
    }

    /// Terms from the most to the least specific: where a question names several
    /// ("What DAS28 counts as remission?", "At what ALT level is methotrexate
    /// withheld?"), the more specific one is what it asks about.
    pub const BY_SPECIFICITY: [Term; 20] = [
        Term::DiseaseActivityCategories,
        Term::EularResponse,
        Term::Flare,
        Term::TreatmentSwitch,
        Term::AltHepatotoxicity,
        Term::TnfInhibitor,
        Term::Csdmard,
        Term::Methotrexate,
        Term::Hydroxychloroquine,
        Term::Sulfasalazine,
        Term::Leflunomide,
        Term::Prednisone,
        Term::Adalimumab,
        Term::Etanercept,
        Term::Tocilizumab,
        Term::Rituximab,
        Term::Tofacitinib,
        Term::Das28,
        Term::Crp,
        Term::Esr,
    ];

    /// The term `question` names, the most specific first; `None` when it names none.
    pub fn named_in(question: &str) -> Option<Term> {
        let words = crate::vocabulary::words_of(question);
        let text = format!(" {} ", words.join(" "));
        Term::BY_SPECIFICITY.into_iter().find(|t| t.words().iter().any(|w| text.contains(&format!(" {w} "))))
    }

    /// The entry's title, for a list of terms in a prompt.
    pub fn title(self) -> &'static str {
        self.entry().0
    }

    /// (title, definition, source).
    fn entry(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Term::Das28 => (
                "DAS28 (Disease Activity Score, 28 joints)",
                "A composite score of rheumatoid arthritis activity from the tender and swollen joint counts of 28 joints \
(TJC28, SJC28), an inflammatory marker and the patient's global assessment (0-100 mm). DAS28-ESR = 0.56*sqrt(TJC28) + \
0.28*sqrt(SJC28) + 0.70*ln(ESR) + 0.014*global. DAS28-CRP = 0.56*sqrt(TJC28) + 0.28*sqrt(SJC28) + 0.36*ln(CRP mg/L + 1) + \
0.014*global + 0.96. Scores run from about 0 to 10; higher is more active: remission below 2.6, low activity 2.6 to \
3.2, moderate above 3.2 up to 5.1, high above 5.1.",
                "Prevoo et al., Arthritis Rheum 1995; DAS28-CRP per das-score.nl",
            ),
            Term::DiseaseActivityCategories => (
                "DAS28 activity categories (remission, low, moderate, high)",
                "Remission: DAS28 below 2.6. Low activity: 2.6 to 3.2. Moderate: above 3.2 up to 5.1. High: above 5.1. \
Treat-to-target aims at remission or low activity (DAS28 at most 3.2).",
                "EULAR; Smolen et al., Ann Rheum Dis 2023 (treat-to-target)",
            ),
            Term::EularResponse => (
                "EULAR response criteria",
                "Response to a treatment judged from the DAS28 change and the level reached. Good: improvement above 1.2 and \
DAS28 at most 3.2. Moderate: improvement above 1.2 with DAS28 above 3.2, or improvement 0.6 to 1.2 with DAS28 at most 5.1. \
Otherwise no response. RDT reads it at 6 months: from the latest DAS28 in the 30 days up to the start to the reading nearest \
day 182 (within 45 days).",
                "van Gestel et al., Arthritis Rheum 1996; RDT DESIGN.md",
            ),
            Term::Flare => (
                "Flare",
                "A rise in disease activity between consecutive DAS28 readings: an increase above 1.2, or above 0.6 when the \
new DAS28 is above 3.2.",
                "van der Maas et al., Arthritis Care Res 2013 (DAS28 flare criteria); RDT DESIGN.md",
            ),
            Term::TreatmentSwitch => (
                "Treatment switch",
                "Starting another disease-modifying drug (csDMARD, biologic, JAK inhibitor or immunosuppressant; not \
prednisone or folic acid) after the index therapy, for lack of effect or for an adverse event.",
                "RDT DESIGN.md",
            ),
            Term::Crp => (
                "C-reactive protein (CRP)",
                "An acute-phase protein made by the liver that rises within hours of inflammation. RDT flags values above \
5 mg/L as high. Part of DAS28-CRP.",
                "Pepys & Hirschfield, J Clin Invest 2003",
            ),
            Term::Esr => (
                "Erythrocyte sedimentation rate (ESR)",
                "How fast red cells settle in an hour (Westergren, mm/h); rises with inflammation, age and anaemia and in \
women. RDT's upper limit: age/2 for men, (age+10)/2 for women, 20 mm/h when age or sex is unknown. Part of DAS28-ESR.",
                "Miller et al., BMJ 1983",
            ),
            Term::AltHepatotoxicity => (
                "ALT and hepatotoxicity",
                "Alanine aminotransferase, a liver enzyme monitored on methotrexate and leflunomide. RDT's upper limit of \
normal is 40 U/L; above 3 times that (120 U/L) is flagged critical, the level at which methotrexate is withheld.",
                "ACR recommendations for methotrexate monitoring, 2008",
            ),
            Term::Csdmard => (
                "csDMARD",
                "Conventional synthetic disease-modifying antirheumatic drug: methotrexate, leflunomide, sulfasalazine, \
hydroxychloroquine. They slow joint damage, unlike painkillers or steroids alone; effect builds over weeks to months.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::Methotrexate => (
                "Methotrexate (MTX)",
                "The anchor csDMARD and usual first treatment of rheumatoid arthritis, taken once weekly (oral or \
subcutaneous) with folic acid. Needs monitoring of blood count, liver enzymes (ALT) and kidney function.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::Hydroxychloroquine => (
                "Hydroxychloroquine (HCQ, Plaquenil)",
                "An antimalarial csDMARD used in mild RA and in combination, and the base treatment of lupus. Needs \
periodic eye (retina) screening.",
                "EULAR recommendations (RA 2022, SLE 2023)",
            ),
            Term::Sulfasalazine => (
                "Sulfasalazine (SSZ)",
                "A csDMARD used alone or in combination in RA, an option when methotrexate is not tolerated.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::Leflunomide => (
                "Leflunomide",
                "A csDMARD (pyrimidine synthesis inhibitor), an alternative to methotrexate. Needs liver enzyme and \
blood pressure monitoring.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::Prednisone => (
                "Prednisone (glucocorticoid)",
                "A glucocorticoid used short term as a bridge when starting or changing a DMARD, or to treat a flare; \
EULAR advises tapering and stopping as soon as clinically feasible. Not a DMARD for RDT's outcomes.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::TnfInhibitor => (
                "TNF inhibitor (TNFi)",
                "A biologic DMARD that blocks tumour necrosis factor: adalimumab, etanercept and others. Usually added \
when a csDMARD strategy fails and poor prognostic factors are present. Infection risk; screen for tuberculosis first.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::Adalimumab => (
                "Adalimumab",
                "A TNF inhibitor (monoclonal antibody) given by subcutaneous injection every other week, usually with \
methotrexate.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::Etanercept => (
                "Etanercept",
                "A TNF inhibitor (receptor fusion protein) given by subcutaneous injection weekly.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::Tocilizumab => (
                "Tocilizumab",
                "A biologic DMARD that blocks the interleukin-6 receptor; lowers CRP and ESR by its mechanism, so these \
markers understate activity on it. Monitor lipids, liver enzymes and neutrophils.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::Rituximab => (
                "Rituximab",
                "A biologic that depletes CD20 B cells, given as infusions; in RA used mainly in seropositive patients \
after TNF inhibitor failure; also used in lupus and systemic sclerosis.",
                "EULAR RA management recommendations, 2022 update",
            ),
            Term::Tofacitinib => (
                "Tofacitinib (JAK inhibitor)",
                "A targeted synthetic DMARD taken by mouth that inhibits Janus kinases. EULAR advises weighing \
cardiovascular, cancer and thrombosis risk factors before use.",
                "EULAR RA management recommendations, 2022 update",
            ),
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GlossaryInput {
    pub term: Term,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct GlossaryOutput {
    pub term: Term,
    pub title: &'static str,
    pub definition: &'static str,
    pub source: &'static str,
}

impl Tool for Glossary {
    const NAME: ToolName = ToolName::Glossary;
    const DESCRIPTION: &'static str =
        "A vetted definition of a rheumatology term or drug (DAS28, activity categories, EULAR \
response, flare, treatment switch, CRP, ESR, ALT, csDMARD and the drugs), with its source. Reads no patient data.";
    const EXAMPLES: &'static [&'static str] = &[
        "What does DAS28 measure and how is it calculated?",
        "What is the definition of a flare in RDT?",
        "What does a moderate EULAR response mean?",
        "How does rituximab work?",
        "Which DAS28 score is low disease activity?",
        "What is the threshold for high disease activity?",
        "Which drugs are conventional synthetic DMARDs?",
        "When is the ALT too high for methotrexate?",
        "What does a treatment switch mean?",
        "What is a TNF inhibitor?",
    ];
    const VOCABULARY: Vocabulary = Vocabulary::boosting(&[
        "mean", "means", "meaning", "define", "defined", "definition", "counts as", "count as", "threshold",
        "thresholds", "cut-off", "what is a", "what is an", "how does", "how do",
    ]);
    const REQUIRED_ROLE: Role = Role::Clinician;
    const MAX_ITEMS: usize = 1;
    const MAX_BYTES: usize = 2 * 1024;

    type Input = GlossaryInput;
    type Output = GlossaryOutput;

    /// The vetted text as written, with its source.
    fn facts(output: &Self::Output) -> Facts {
        Facts::stated(format!("{}: {} (Source: {}.)", said(output.title), output.definition, output.source))
    }

    /// A question in the glossary's own vocabulary ("What DAS28 counts as remission?",
    /// "How is a flare defined?") or of the form "What is <term>?" that names a term
    /// asks for that term's definition: the question decides the term, not a model
    /// choosing among close candidates (whose choice can tip with thread count or load).
    const READINGS: &'static [crate::reading::Asks] = &[crate::reading::Asks::Definition];

    fn arguments_read(reading: &crate::reading::Reading) -> serde_json::Map<String, serde_json::Value> {
        let question = reading.words.join(" ");
        let question = question.as_str();
        let words = &reading.words;
        let what_is_term = match words.as_slice() {
            [what, is, rest @ ..] if what == "what" && (is == "is" || is == "are") => {
                let rest = rest.join(" ");
                let rest = rest.strip_prefix("a ").or_else(|| rest.strip_prefix("an ")).unwrap_or(&rest);
                Term::ALL.iter().any(|t| t.words().contains(&rest))
            }
            _ => false,
        };
        let mut named = serde_json::Map::new();
        if what_is_term || Self::VOCABULARY.matches(question) {
            if let Some(term) = Term::named_in(question) {
                named.insert("term".into(), serde_json::Value::String(term.name().into()));
            }
        }
        named
    }

    fn patients(_: &Self::Input) -> Vec<PatientId> {
        Vec::new()
    }

    async fn call(
        &self,
        _ctx: &ToolContext,
        principal: &Principal,
        _scope: &Scope,
        input: Self::Input,
    ) -> Result<Bounded<Self::Output>, ToolError> {
        check_role(Self::NAME, Self::REQUIRED_ROLE, principal)?;
        let (title, definition, source) = input.term.entry();
        Ok(Bounded::complete(GlossaryOutput { term: input.term, title, definition, source }))
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::das28::{FLARE_RISE, FLARE_RISE_ABOVE_TARGET, HIGH, LOW, MAJOR_IMPROVEMENT, MINOR_IMPROVEMENT, REMISSION};

    /// The question, not a model's choice, names the term of a definition question;
    /// a question that names no term, or asks about values rather than a meaning,
    /// names nothing.
    #[test]
    fn definition_questions_name_their_term() {
        let term_of = |q: &str| Glossary::arguments_named_in(q).get("term").and_then(|t| t.as_str()).map(str::to_owned);
        for (question, term) in [
            ("What DAS28 counts as remission?", "disease_activity_categories"),
            ("What is DAS28?", "das28"),
            ("What is a flare?", "flare"),
            ("How is a flare defined?", "flare"),
            ("What counts as a good EULAR response?", "eular_response"),
            ("What is a csDMARD?", "csdmard"),
            ("At what ALT threshold is methotrexate withheld?", "alt_hepatotoxicity"),
            ("How does rituximab work?", "rituximab"),
            ("What does a treatment switch mean?", "treatment_switch"),
            ("What is a TNF inhibitor?", "tnf_inhibitor"),
        ] {
            assert_eq!(term_of(question).as_deref(), Some(term), "{question}");
        }
        for question in ["What is the CRP trend?", "What is the capital of France?", "Tell me about methotrexate dosing"] {
            assert_eq!(term_of(question), None, "{question}");
        }
    }

    #[test]
    fn every_term_has_words_and_a_place_in_the_specificity_order() {
        for term in Term::ALL {
            assert!(!term.words().is_empty(), "{term:?}");
            assert!(Term::BY_SPECIFICITY.contains(&term), "{term:?}");
        }
    }

    #[test]
    fn every_term_has_a_bounded_sourced_entry() {
        for term in Term::ALL {
            assert_eq!(serde_json::to_value(term).unwrap(), term.name(), "the name is the input's value");
            let (title, definition, source) = term.entry();
            assert!(!title.is_empty() && !source.is_empty(), "{term:?}");
            let out = GlossaryOutput { term, title, definition, source };
            assert!(serde_json::to_vec(&Bounded::complete(out)).unwrap().len() <= Glossary::MAX_BYTES, "{term:?}");
        }
    }

    /// The definitions state the thresholds the tools compute with.
    #[test]
    fn definitions_agree_with_the_computed_thresholds() {
        for term in [Term::DiseaseActivityCategories, Term::Das28] {
            let (_, categories, _) = term.entry();
            for threshold in [REMISSION, LOW, HIGH] {
                assert!(categories.contains(&threshold.to_string()), "{term:?} {threshold}");
            }
        }
        let (_, alt, _) = Term::AltHepatotoxicity.entry();
        assert!(alt.contains(&format!("{} U/L", crate::reference::ALT_ULN)));
        assert!(alt.contains(&format!("{} U/L", journey::clinical::labs::ALT_CRITICAL)));
        let (_, crp, _) = Term::Crp.entry();
        assert!(crp.contains(&format!("{} mg/L", journey::clinical::labs::CRP_ULN_MG_L)));
        let (_, eular, _) = Term::EularResponse.entry();
        assert!(eular.contains(&format!("above {MAJOR_IMPROVEMENT}")));
        assert!(eular.contains(&format!("{MINOR_IMPROVEMENT} to")));
        let (_, flare, _) = Term::Flare.entry();
        assert!(flare.contains(&format!("above {FLARE_RISE}")));
        assert!(flare.contains(&format!("above {FLARE_RISE_ABOVE_TARGET}")));
    }
}
