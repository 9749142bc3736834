//! Free-text progress notes, written the way different rheumatologists write them.
//!
//! A note is built from the facts of its visit (what was measured, what changed) in
//! one of four house styles (SOAP, letter to the GP, terse, bulleted), each author
//! keeping their style, and each fact phrased in one of several ways. Subtypes are
//! never named: what a note reveals is what a clinician would notice (nodules, a dry
//! cough, CRP creeping up), and the same findings can appear, or be denied, in any
//! subtype. Wording draws from the patient's text stream, so rewording a phrase never
//! changes anyone's course.

use crate::chart::{Sex, VisitKind};
use crate::das28::{Das28Parts, Das28Variant};
use crate::imaging::ImagingFacts;
use crate::labs::ALT_CRITICAL;
use crate::medications::{Change, Drug, StopReason};
use crate::outcomes::{HIGH, REMISSION, TARGET};
use crate::sample::{chance, days, pick, PatientRng};
use crate::subtype::Disease;

/// Extra-articular features of rheumatoid arthritis that show up in notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtraArticular {
    Nodules,
    Sicca,
    LungDisease,
    Episcleritis,
    Vasculitis,
    Constitutional,
}

impl ExtraArticular {
    pub const ALL: [ExtraArticular; 6] = [
        ExtraArticular::Nodules,
        ExtraArticular::Sicca,
        ExtraArticular::LungDisease,
        ExtraArticular::Episcleritis,
        ExtraArticular::Vasculitis,
        ExtraArticular::Constitutional,
    ];

    fn present(self) -> &'static [&'static str] {
        match self {
            ExtraArticular::Nodules => &[
                "firm subcutaneous nodules over the extensor surface of the forearm",
                "new rheumatoid nodules at both elbows",
                "a nodule over the olecranon, non-tender",
                "nodules on the fingers (PIP joints)",
            ],
            ExtraArticular::Sicca => &[
                "gritty dry eyes and a dry mouth",
                "sicca symptoms, using artificial tears",
                "dry eyes; Schirmer's reduced at the optician",
                "needs water to swallow dry food",
            ],
            ExtraArticular::LungDisease => &[
                "a dry cough and breathlessness on exertion for two months",
                "fine bibasal crackles on auscultation",
                "exertional dyspnoea; HRCT shows early reticulation",
                "cough, new since the last visit; lung function requested",
            ],
            ExtraArticular::Episcleritis => &[
                "a red, mildly sore right eye, episcleritis per optometry",
                "recurrent episcleritis",
                "ocular redness without visual loss",
            ],
            ExtraArticular::Vasculitis => &[
                "nail-fold infarcts",
                "a purpuric rash on the shins",
                "small digital ulcers at the fingertips",
            ],
            ExtraArticular::Constitutional => &[
                "weight loss of {kg} kg and drenching night sweats",
                "marked fatigue and low-grade fevers",
                "unintentional weight loss ({kg} kg since the last visit)",
            ],
        }
    }

    fn denied(self) -> &'static [&'static str] {
        match self {
            ExtraArticular::Nodules => &["no nodules", "no rheumatoid nodules seen"],
            ExtraArticular::Sicca => &["no sicca symptoms", "denies dry eyes or mouth"],
            ExtraArticular::LungDisease => &["chest clear", "no cough or breathlessness", "no respiratory symptoms"],
            ExtraArticular::Episcleritis => &["eyes quiet", "no red eyes"],
            ExtraArticular::Vasculitis => &["no rash or nail-fold lesions", "skin clear"],
            ExtraArticular::Constitutional => &["weight stable", "no fevers or sweats"],
        }
    }
}

/// Lupus findings at a visit.
#[derive(Debug, Clone)]
pub struct LupusFacts {
    pub sledai: f64,
    pub anti_dsdna: Option<f64>,
    pub c3: Option<f64>,
    pub c4: Option<f64>,
    pub features: Vec<&'static str>,
    pub renal: bool,
}

/// Systemic sclerosis findings at a visit.
#[derive(Debug, Clone)]
pub struct SscFacts {
    pub mrss: Option<f64>,
    pub fvc: Option<f64>,
    pub dlco: Option<f64>,
    pub features: Vec<&'static str>,
    pub diffuse: bool,
}

/// What happened at one visit: everything a note may say.
#[derive(Debug, Clone)]
pub struct NoteFacts {
    pub disease: Disease,
    pub kind: VisitKind,
    pub sex: Sex,
    pub age: u32,
    pub day: i32,
    pub das28: Option<(Das28Parts, f64)>,
    pub esr: Option<f64>,
    pub crp: Option<f64>,
    pub previous_crp: Option<f64>,
    pub hb: Option<f64>,
    pub alt: Option<f64>,
    pub creatinine: Option<f64>,
    pub flaring: bool,
    pub stiffness_minutes: u32,
    pub extra_articular: Vec<ExtraArticular>,
    pub medications: Vec<Drug>,
    pub changes: Vec<Change>,
    pub seropositive: bool,
    pub imaging: Option<ImagingFacts>,
    pub lupus: Option<LupusFacts>,
    pub ssc: Option<SscFacts>,
    pub next_visit_weeks: i32,
}

/// How an author writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Soap,
    Letter,
    Terse,
    Bullets,
}

/// The clinic's rheumatologists; a patient has a usual one (see [`write`]).
const AUTHORS: [(&str, Style); 6] = [
    ("Dr A. Okafor", Style::Soap),
    ("Dr M. Lindqvist", Style::Letter),
    ("Dr R. Iyer", Style::Terse),
    ("Dr S. Moreau", Style::Bullets),
    ("Dr J. Alvarez", Style::Letter),
    ("Dr K. Tanaka", Style::Terse),
];
const REGISTRAR: &str = "Dr L. Byrne (registrar)";

/// Number of usual authors a patient can be assigned to.
pub const AUTHOR_COUNT: usize = AUTHORS.len();

/// Writes the note for a visit; returns (author, text). `usual_author` is the
/// patient's usual rheumatologist; a registrar sees about one visit in five.
pub fn write(rng: &mut PatientRng, usual_author: usize, facts: &NoteFacts) -> (&'static str, String) {
    let (author, style) = if chance(rng, 0.2) {
        let style = *pick(rng, &[Style::Soap, Style::Letter, Style::Terse, Style::Bullets]);
        (REGISTRAR, style)
    } else {
        AUTHORS[usual_author % AUTHORS.len()]
    };
    let sections = Sections::gather(rng, facts, style == Style::Terse);
    let text = match style {
        Style::Soap => soap(&sections),
        Style::Letter => letter(rng, facts, &sections, author),
        Style::Terse => terse(&sections),
        Style::Bullets => bullets(&sections),
    };
    (author, text)
}

/// A note's content before it is laid out.
struct Sections {
    opening: String,
    history: Vec<String>,
    exam: Vec<String>,
    results: Vec<String>,
    assessment: Vec<String>,
    plan: Vec<String>,
}

impl Sections {
    fn gather(rng: &mut PatientRng, f: &NoteFacts, terse: bool) -> Self {
        let mut s = Sections {
            opening: opening(rng, f, terse),
            history: Vec::new(),
            exam: Vec::new(),
            results: Vec::new(),
            assessment: Vec::new(),
            plan: Vec::new(),
        };
        match f.disease {
            Disease::RheumatoidArthritis => ra_content(rng, f, terse, &mut s),
            Disease::Lupus => lupus_content(rng, f, &mut s),
            Disease::SystemicSclerosis => ssc_content(rng, f, &mut s),
        }
        labs_content(rng, f, terse, &mut s);
        plan_content(rng, f, terse, &mut s);
        shuffle(rng, &mut s.history);
        s
    }
}

fn woman_or_man(f: &NoteFacts) -> &'static str {
    match f.sex {
        Sex::Female => "woman",
        Sex::Male => "man",
    }
}

// Clippy would drop the derefs, but `pick` yields `&&str` here and the arms must agree.
#[allow(clippy::explicit_auto_deref)]
fn disease_name(rng: &mut PatientRng, f: &NoteFacts, terse: bool) -> &'static str {
    match (f.disease, terse) {
        (Disease::RheumatoidArthritis, true) => "RA",
        (Disease::RheumatoidArthritis, false) => {
            if f.seropositive {
                *pick(rng, &["seropositive rheumatoid arthritis", "rheumatoid arthritis", "seropositive RA"])
            } else {
                *pick(rng, &["seronegative rheumatoid arthritis", "rheumatoid arthritis", "seronegative RA"])
            }
        }
        (Disease::Lupus, true) => "SLE",
        (Disease::Lupus, false) => *pick(rng, &["systemic lupus erythematosus", "SLE", "lupus"]),
        (Disease::SystemicSclerosis, true) => "SSc",
        (Disease::SystemicSclerosis, false) => *pick(rng, &["systemic sclerosis", "scleroderma", "SSc"]),
    }
}

fn opening(rng: &mut PatientRng, f: &NoteFacts, terse: bool) -> String {
    let who = woman_or_man(f);
    let sx = if f.sex == Sex::Female { "F" } else { "M" };
    let name = disease_name(rng, f, terse);
    match f.kind {
        VisitKind::NewPatient => {
            let complaint = match f.disease {
                Disease::RheumatoidArthritis => *pick(rng, &[
                    "symmetrical pain and swelling of the small joints of the hands",
                    "painful, swollen hands and feet with early morning stiffness",
                    "an inflammatory polyarthritis affecting the wrists and MCPs",
                ]),
                Disease::Lupus => *pick(rng, &[
                    "a photosensitive rash, joint pains and fatigue",
                    "arthralgia, mouth ulcers and a positive ANA",
                    "fatigue, hair loss and painful joints",
                ]),
                Disease::SystemicSclerosis => *pick(rng, &[
                    "Raynaud's phenomenon and tightening of the skin of the fingers",
                    "puffy fingers, Raynaud's and reflux",
                    "skin thickening of the hands and forearms",
                ]),
            };
            let months = days(rng, 2, 14);
            if terse {
                format!("New pt. {}{}, {} mo hx of {}.", f.age, sx, months, complaint)
            } else {
                match days(rng, 0, 2) {
                    0 => format!("{}-year-old {} referred with a {}-month history of {}.", f.age, who, months, complaint),
                    1 => format!("New referral: {} year old {}, {} months of {}.", f.age, who, months, complaint),
                    _ => format!("Thank you for referring this {}-year-old {} with {} over {} months.", f.age, who, complaint, months),
                }
            }
        }
        VisitKind::FollowUp => {
            let months = (f.day as f64 / 30.4).round() as i32;
            if terse {
                format!("{}{} {} f/u, {} mo since dx.", f.age, sx, name, months)
            } else {
                match days(rng, 0, 3) {
                    0 => format!("Follow-up of {}.", name),
                    1 => format!("Review of {}, diagnosed {} months ago.", name, months),
                    2 => format!("Routine clinic review ({}).", name),
                    _ => format!("{}-year-old {} with {}, seen for follow-up.", f.age, who, name),
                }
            }
        }
        VisitKind::Unscheduled => {
            if terse {
                format!("Urgent slot, {}{} {}, ?flare.", f.age, sx, name)
            } else {
                (*pick(rng, &[
                    "Seen urgently at the patient's request.",
                    "Fitted into today's clinic because of worsening symptoms.",
                    "Urgent review via the advice line.",
                ]))
                .to_owned()
            }
        }
    }
}

fn ra_content(rng: &mut PatientRng, f: &NoteFacts, terse: bool, s: &mut Sections) {
    // History: stiffness, flare, how the patient feels, extra-articular features.
    let m = f.stiffness_minutes;
    s.history.push(if m == 0 {
        (*pick(rng, &["No early morning stiffness.", "Denies morning stiffness.", "EMS nil."])).to_owned()
    } else if terse {
        format!("EMS {m} min.")
    } else {
        match days(rng, 0, 2) {
            0 => format!("Morning stiffness about {m} minutes."),
            1 => format!("Stiff for roughly {m} minutes on waking."),
            _ => format!("Reports early morning stiffness lasting {m} min."),
        }
    });
    if f.flaring {
        s.history.push(
            (*pick(rng, &[
                "Describes a flare over the past two weeks with swollen, hot wrists.",
                "Had a flare since the last visit: hands worse, struggling with buttons.",
                "Worse for 10 days; knees and MCPs swollen.",
                "Flare of joint pain and swelling, woken at night by the hands.",
            ]))
            .to_owned(),
        );
    }
    if let Some((_, score)) = f.das28 {
        let feeling = if score <= REMISSION {
            pick(rng, &["Feels well.", "Doing well, back to full activities.", "No complaints; joints settled.", "Very happy with progress."])
        } else if score <= TARGET {
            pick(rng, &["Mostly well with occasional aches.", "Much improved.", "Some residual stiffness but coping well."])
        } else if score <= HIGH {
            pick(rng, &["Ongoing hand pain and fatigue.", "Still struggling with joint pain.", "Partial improvement only.", "Fatigue ++, pain in hands and feet."])
        } else {
            pick(rng, &["Very limited by pain.", "Multiple painful joints, poor sleep.", "Not coping; off work with joint pain."])
        };
        s.history.push((*feeling).to_owned());
    }
    for feature in &f.extra_articular {
        if chance(rng, 0.55) {
            let phrase = pick(rng, feature.present()).replace("{kg}", &days(rng, 3, 8).to_string());
            let lead = *pick(rng, &["Notes", "Reports", "Describes", "On examination", "Has"]);
            s.history.push(if terse { format!("{phrase}.") } else { format!("{lead} {phrase}.") });
        }
    }
    if chance(rng, 0.25) {
        let f_denied = *pick(rng, &ExtraArticular::ALL);
        if !f.extra_articular.contains(&f_denied) {
            let phrase = *pick(rng, f_denied.denied());
            s.history.push(capitalise(phrase) + ".");
        }
    }

    // Examination: the joint counts and patient global.
    if let Some((parts, _)) = f.das28 {
        let (t, sw, g) = (parts.tjc28, parts.sjc28, parts.patient_global);
        s.exam.push(if terse {
            format!("TJC28 {t}, SJC28 {sw}, PtGA {g}.")
        } else {
            match days(rng, 0, 3) {
                0 => format!("{t} tender and {sw} swollen joints (28-joint count)."),
                1 => format!("TJC28 {t}, SJC28 {sw}. Patient global {g}/100."),
                2 if sw == 0 => format!("No synovitis; {t} tender joints."),
                2 => format!("Synovitis in {sw} joints ({}), {t} tender.", joints(rng, sw)),
                _ => format!("Joint count: tender {t}/28, swollen {sw}/28."),
            }
        });
        if !s.exam.last().is_some_and(|e| e.contains("global") || e.contains("PtGA")) {
            s.exam.push(format!("{} {g} mm.", pick(rng, &["Patient global", "PGA", "Patient global assessment (VAS)"])));
        }
    }
    if let Some(img) = f.imaging {
        if let Some(sharp) = img.sharp {
            s.results.push(match days(rng, 0, 2) {
                0 => format!("Hand and foot radiographs: Sharp/van der Heijde score {sharp:.0}."),
                1 => format!("X-rays hands/feet scored (SvdH) {sharp:.0}{}.", if sharp >= 10.0 { ", erosive" } else { "" }),
                _ => format!("Radiographic damage score {sharp:.0} (modified Sharp)."),
            });
        }
        if let Some(pd) = img.power_doppler {
            s.results.push(if pd == 0.0 {
                (*pick(rng, &["Ultrasound: no power Doppler signal.", "US: grey-scale synovitis only, PD 0."])).to_owned()
            } else {
                format!("{} {pd:.0}.", pick(rng, &["Ultrasound power Doppler score", "US PD global score", "MSK ultrasound, PD synovitis score"]))
            });
        }
    }

    // Assessment: the score and what it means.
    if let Some((parts, score)) = f.das28 {
        let name = match parts.variant {
            Das28Variant::Esr => "DAS28-ESR",
            Das28Variant::Crp => "DAS28-CRP",
        };
        let level = if score < REMISSION {
            "remission"
        } else if score <= TARGET {
            "low disease activity"
        } else if score <= HIGH {
            "moderate disease activity"
        } else {
            "high disease activity"
        };
        s.assessment.push(match days(rng, 0, 2) {
            0 => format!("{name} {score:.2}: {level}."),
            1 => format!("{} ({name} {score:.2}).", capitalise(level)),
            _ => format!("{name} today {score:.2}, i.e. {level}."),
        });
    }
}

fn lupus_content(rng: &mut PatientRng, f: &NoteFacts, s: &mut Sections) {
    let Some(l) = &f.lupus else { return };
    for feature in &l.features {
        s.history.push(format!("{}.", capitalise(feature)));
    }
    if l.features.is_empty() {
        s.history.push((*pick(rng, &["No new symptoms.", "Well, no rash or ulcers.", "Quiet since the last visit."])).to_owned());
    }
    if f.flaring {
        s.history.push((*pick(rng, &["Feels she is flaring: joints and fatigue worse.", "Symptoms worse over the last few weeks."])).to_owned());
    }
    s.assessment.push(format!("{} {:.0}.", pick(rng, &["SLEDAI-2K", "SLEDAI-2K score", "Disease activity (SLEDAI-2K)"]), l.sledai));
    if let Some(dna) = l.anti_dsdna {
        s.results.push(format!("anti-dsDNA {dna:.0} IU/mL."));
    }
    if let (Some(c3), Some(c4)) = (l.c3, l.c4) {
        let low = c3 < 90.0 || c4 < 10.0;
        s.results.push(if low {
            format!("Complement low (C3 {c3:.0}, C4 {c4:.0} mg/dL).")
        } else {
            format!("C3 {c3:.0}, C4 {c4:.0} mg/dL.")
        });
    }
    if l.renal {
        s.results.push((*pick(rng, &["Urine PCR sent.", "Urinalysis: protein ++.", "Renal function and urine protein monitored."])).to_owned());
    }
}

fn ssc_content(rng: &mut PatientRng, f: &NoteFacts, s: &mut Sections) {
    let Some(c) = &f.ssc else { return };
    for feature in &c.features {
        s.history.push(format!("{}.", capitalise(feature)));
    }
    if let Some(mrss) = c.mrss {
        s.exam.push(format!("{} {mrss:.0}/51.", pick(rng, &["mRSS", "Modified Rodnan skin score", "Skin score (mRSS)"])));
    }
    if let Some(fvc) = c.fvc {
        let dlco = c.dlco.map(|d| format!(", DLCO {d:.0}%")).unwrap_or_default();
        s.results.push(format!("Lung function: FVC {fvc:.0}% predicted{dlco}."));
    }
    s.assessment.push(
        (*pick(rng, if c.diffuse {
            &["Diffuse cutaneous disease.", "dcSSc, skin active.", "Diffuse SSc under surveillance for ILD."]
        } else {
            &["Limited cutaneous disease, stable.", "lcSSc.", "Limited SSc; Raynaud's the main issue."]
        }))
        .to_owned(),
    );
}

fn labs_content(rng: &mut PatientRng, f: &NoteFacts, terse: bool, s: &mut Sections) {
    let rising = matches!((f.previous_crp, f.crp), (Some(before), Some(now)) if now > 1.5 * before && now > 10.0);
    match (f.esr, f.crp) {
        (Some(esr), Some(crp)) => s.results.push(if terse {
            format!("ESR {esr:.0}, CRP {crp:.1}.")
        } else {
            format!("ESR {esr:.0} mm/h, CRP {crp:.1} mg/L.")
        }),
        (None, Some(crp)) if rising => {
            let before = f.previous_crp.unwrap_or(crp);
            s.results.push(match days(rng, 0, 2) {
                0 => format!("CRP climbing: {before:.0} -> {crp:.0} mg/L."),
                1 => format!("CRP up to {crp:.1} mg/L (was {before:.1})."),
                _ => format!("Rising inflammatory markers (CRP {crp:.0})."),
            });
        }
        (None, Some(crp)) => s.results.push(format!("CRP {crp:.1} mg/L.")),
        (Some(esr), None) => s.results.push(format!("ESR {esr:.0} mm/h.")),
        (None, None) => {}
    }
    if rising && f.esr.is_some() && chance(rng, 0.6) {
        s.results.push((*pick(rng, &["CRP higher than last time.", "Inflammatory markers trending up."])).to_owned());
    }
    let alt_high = f.alt.is_some_and(|a| a > ALT_CRITICAL);
    let abnormal = alt_high || f.hb.is_some_and(|h| h < 11.0) || f.creatinine.is_some_and(|c| c > 1.3);
    if f.alt.is_some() && !abnormal {
        s.results.push((*pick(rng, &[
            "FBC, LFTs and U&E unremarkable.",
            "Monitoring bloods satisfactory.",
            "Blood monitoring fine.",
            "Hb, ALT and creatinine within range.",
        ]))
        .to_owned());
    } else if abnormal {
        if let Some(hb) = f.hb.filter(|h| *h < 11.0) {
            s.results.push(format!("Hb {hb:.1} g/dL, anaemia of chronic disease likely."));
        }
        if let Some(alt) = f.alt.filter(|_| alt_high) {
            s.results.push(match days(rng, 0, 2) {
                0 => format!("ALT {alt:.0} U/L, more than three times the upper limit."),
                1 => format!("Transaminitis: ALT {alt:.0}."),
                _ => format!("LFTs deranged (ALT {alt:.0} U/L)."),
            });
        }
        if let Some(cr) = f.creatinine.filter(|c| *c > 1.3) {
            s.results.push(format!("Creatinine {cr:.2} mg/dL."));
        }
    }
}

fn plan_content(rng: &mut PatientRng, f: &NoteFacts, terse: bool, s: &mut Sections) {
    let say = |rng: &mut PatientRng, d: Drug| *pick(rng, d.spoken_names());
    for change in &f.changes {
        let line = match change {
            Change::Started(Drug::FolicAcid) => continue,
            Change::Started(Drug::Prednisone) => {
                let name = say(rng, Drug::Prednisone);
                match days(rng, 0, 2) {
                    0 => format!("Short course of {name}, reducing over several weeks."),
                    1 => format!("Bridging {name} 15-20 mg, taper to stop."),
                    _ => format!("Steroid taper ({name})."),
                }
            }
            Change::Started(d @ (Drug::Adalimumab | Drug::Etanercept | Drug::Tocilizumab | Drug::Tofacitinib | Drug::Rituximab | Drug::Abatacept)) => {
                let name = say(rng, *d);
                match days(rng, 0, 2) {
                    0 => format!("Start {name}; TB screen and hepatitis serology negative."),
                    1 => format!("Meets criteria for advanced therapy: {name} to start."),
                    _ => format!("Commence {name} after pre-biologic screening."),
                }
            }
            Change::Started(d) => {
                let name = say(rng, *d);
                match days(rng, 0, 2) {
                    0 => format!("Start {name}."),
                    1 => format!("Commence {name}{}.", if *d == Drug::Methotrexate { " with weekly folic acid" } else { "" }),
                    _ => format!("Add {name}."),
                }
            }
            Change::Stopped(Drug::FolicAcid | Drug::Prednisone, _) => continue,
            Change::Stopped(d, StopReason::AdverseEvent { .. }) => {
                let name = say(rng, *d);
                format!("Stop {name} because of the liver enzymes; repeat LFTs in 2 weeks.")
            }
            Change::Stopped(d, _) => {
                let name = say(rng, *d);
                match days(rng, 0, 2) {
                    0 => format!("Stop {name}: inadequate response."),
                    1 => format!("{} has not worked; stop.", capitalise(name)),
                    _ => format!("Discontinue {name} (failure)."),
                }
            }
        };
        s.plan.push(line);
    }
    if f.changes.is_empty() {
        let meds: Vec<&str> = f.medications.iter().filter(|d| d.is_dmard()).map(|d| *pick(rng, d.spoken_names())).collect();
        s.plan.push(if meds.is_empty() {
            (*pick(rng, &["No change.", "Continue as is."])).to_owned()
        } else if terse {
            format!("Cont {}.", meds.join(" + "))
        } else {
            format!("{} {}.", pick(rng, &["Continue", "No change to", "Stay on"]), meds.join(" and "))
        });
    }
    let w = f.next_visit_weeks;
    s.plan.push(if terse {
        format!("RV {w}/52.")
    } else {
        match days(rng, 0, 2) {
            0 => format!("Review in {w} weeks."),
            1 => format!("Follow-up in about {} months.", ((w as f64) / 4.3).round().max(1.0)),
            _ => format!("Next appointment in {w} weeks, sooner if flaring."),
        }
    });
}

fn soap(s: &Sections) -> String {
    let mut out = String::with_capacity(600);
    out.push_str("S: ");
    out.push_str(&s.opening);
    for h in &s.history {
        out.push(' ');
        out.push_str(h);
    }
    out.push_str("\nO: ");
    out.push_str(&join(s.exam.iter().chain(&s.results)));
    out.push_str("\nA: ");
    out.push_str(&join(s.assessment.iter()));
    out.push_str("\nP: ");
    out.push_str(&join(s.plan.iter()));
    out
}

fn letter(rng: &mut PatientRng, f: &NoteFacts, s: &Sections, author: &str) -> String {
    let pronoun = if f.sex == Sex::Female { "her" } else { "him" };
    let greeting = *pick(rng, &["Dear Dr Patel,", "Dear Colleague,", "Dear Dr Nguyen,", "Dear Dr Brown,"]);
    let mut out = String::with_capacity(800);
    out.push_str(greeting);
    out.push_str("\n\n");
    out.push_str(&format!("I saw {pronoun} in the rheumatology clinic today. "));
    out.push_str(&s.opening);
    for h in &s.history {
        out.push(' ');
        out.push_str(h);
    }
    out.push_str("\n\n");
    let findings = join(s.exam.iter().chain(&s.results).chain(&s.assessment));
    if !findings.is_empty() {
        out.push_str(&findings);
        out.push_str("\n\n");
    }
    out.push_str(&join(s.plan.iter()));
    out.push_str("\n\nYours sincerely,\n");
    out.push_str(author);
    out
}

fn terse(s: &Sections) -> String {
    let all = std::iter::once(&s.opening).chain(&s.history).chain(&s.exam).chain(&s.results).chain(&s.assessment);
    let mut out = join(all);
    out.push_str(" Plan: ");
    out.push_str(&join(s.plan.iter()));
    out
}

fn bullets(s: &Sections) -> String {
    let mut out = String::with_capacity(700);
    out.push_str(&s.opening);
    for (title, items) in
        [("History", &s.history), ("Examination", &s.exam), ("Results", &s.results), ("Impression", &s.assessment), ("Plan", &s.plan)]
    {
        if items.is_empty() {
            continue;
        }
        out.push('\n');
        out.push_str(title);
        out.push(':');
        for item in items {
            out.push_str("\n- ");
            out.push_str(item);
        }
    }
    out
}

fn join<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(String::as_str).collect::<Vec<_>>().join(" ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Names `n` swollen joints for an exam line ("R wrist, L MCP2, ...").
fn joints(rng: &mut PatientRng, n: u8) -> String {
    const JOINTS: [&str; 14] = [
        "R wrist", "L wrist", "R MCP2", "R MCP3", "L MCP2", "L MCP3", "R PIP2", "L PIP3", "R knee", "L knee",
        "R elbow", "L elbow", "R shoulder", "L PIP2",
    ];
    if n > 5 {
        return (*pick(rng, &["wrists, MCPs and PIPs", "both hands and knees", "widespread small joints"])).to_owned();
    }
    let mut chosen: Vec<&str> = Vec::new();
    while chosen.len() < n as usize {
        let j = *pick(rng, &JOINTS);
        if !chosen.contains(&j) {
            chosen.push(j);
        }
    }
    chosen.join(", ")
}

fn shuffle<T>(rng: &mut PatientRng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = days(rng, 0, i as i32) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{patient_rng, Stream};

    fn facts() -> NoteFacts {
        NoteFacts {
            disease: Disease::RheumatoidArthritis,
            kind: VisitKind::FollowUp,
            sex: Sex::Female,
            age: 54,
            day: 120,
            das28: Some((
                Das28Parts { tjc28: 6, sjc28: 4, patient_global: 55, marker: 34.0, variant: Das28Variant::Esr },
                5.12,
            )),
            esr: Some(34.0),
            crp: Some(21.0),
            previous_crp: Some(9.0),
            hb: Some(12.1),
            alt: Some(25.0),
            creatinine: Some(0.8),
            flaring: false,
            stiffness_minutes: 60,
            extra_articular: vec![ExtraArticular::Nodules],
            medications: vec![Drug::Methotrexate, Drug::FolicAcid],
            changes: vec![Change::Started(Drug::Adalimumab)],
            seropositive: true,
            imaging: None,
            lupus: None,
            ssc: None,
            next_visit_weeks: 8,
        }
    }

    #[test]
    fn notes_carry_the_visit_facts() {
        let mut rng = patient_rng(9, 0, Stream::Text);
        for _ in 0..50 {
            let (_, text) = write(&mut rng, 0, &facts());
            assert!(text.contains("5.12"), "{text}");
            assert!(text.contains("adalimumab"), "{text}");
        }
    }

    #[test]
    fn wording_varies_for_the_same_facts() {
        let mut rng = patient_rng(9, 1, Stream::Text);
        let mut texts: Vec<String> = (0..40).map(|i| write(&mut rng, i % AUTHOR_COUNT, &facts()).1).collect();
        texts.sort();
        texts.dedup();
        assert!(texts.len() >= 35, "only {} distinct notes of 40", texts.len());
    }

    #[test]
    fn notes_never_name_the_subtype() {
        let mut rng = patient_rng(9, 2, Stream::Text);
        for _ in 0..200 {
            let (_, text) = write(&mut rng, 1, &facts());
            let lower = text.to_lowercase();
            assert!(!lower.contains("refractory") && !lower.contains("responder") && !lower.contains("subtype"), "{text}");
        }
    }
}
