//! Lab tests: what RDT reads (LOINC code, UCUM unit), how a value is read from an
//! event, and the reference ranges and flags every tool reads values against.
//!
//! **Reading.** One function per datum: [`LabTest::read`] reads a test's value from
//! an event ([`crp_mg_l`] and [`esr_mm_h`] name it for CRP and ESR), and
//! [`lab_values`] a journey's series of one test, which the cohort analytics, the tools
//! and the web all read. A value is read in the test's unit: as recorded when the unit is the
//! table's (UCUM, or its common spelling), converted when the factor is exact (CRP in
//! mg/dL, x10), and not read at all in any other unit: never converted by guess.
//!
//! Adult ranges in the units RDT's virtual cohort and most FHIR exports write (UCUM).
//!
//! Sources (ranges vary by laboratory; these are common textbook adult values, chosen
//! once and stated here so every answer uses the same ones):
//! - CRP < 5 mg/L (common laboratory cut-off; Pepys & Hirschfield, J Clin Invest 2003).
//! - ESR, Westergren: upper limit (age / 2) mm/h for men, ((age + 10) / 2) for women
//!   (Miller, Green & Robinson, BMJ 1983), age at the value's date; 20 mm/h when age or
//!   sex is unknown.
//! - Haemoglobin: women 12.0-16.0 g/dL, men 13.0-17.5 g/dL (low limits: WHO anaemia
//!   thresholds, 2011); critical below 7.0 or above 20.0 g/dL.
//! - ALT: upper limit of normal (ULN) 40 U/L; above 3x ULN (120 U/L) flagged critical,
//!   the threshold at which methotrexate is withheld (ACR 2008 recommendations on
//!   methotrexate monitoring; the virtual cohort stops it there too).
//! - Creatinine: women 0.5-1.1 mg/dL, men 0.7-1.3 mg/dL.
//! - Rheumatoid factor < 14 IU/mL; anti-CCP < 20 U/mL (positivity cut-offs; high
//!   positive > 3x ULN in the 2010 ACR/EULAR RA classification criteria).
//! - Complement C3 90-180 mg/dL, C4 10-40 mg/dL.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::{Event, Quantity};
use crate::terminology::{units, Concept};

/// A flag against a reference range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    CriticalLow,
    Low,
    Normal,
    High,
    CriticalHigh,
}

impl Flag {
    pub fn is_abnormal(self) -> bool {
        self != Flag::Normal
    }
}

// An enum, so a model can only ask for one of these (the schema lists them) and a tool
// never guesses a code. Variant comments are `//`, not `///`, so the schema stays a
// plain `enum` of names (simplest for constrained generation).
/// A lab test: crp (C-reactive protein, LOINC 1988-5, mg/L), esr (Westergren, 4537-7,
/// mm/h), haemoglobin (718-7, g/dL), alt (1742-6, U/L), creatinine (2160-0, mg/dL),
/// rheumatoid_factor (11572-5, IU/mL), anti_ccp (32218-0, U/mL), c3 (4485-9, mg/dL),
/// c4 (4498-2, mg/dL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabTest {
    Crp,
    Esr,
    Haemoglobin,
    Alt,
    Creatinine,
    RheumatoidFactor,
    AntiCcp,
    C3,
    C4,
}

pub use crate::terminology::LOINC;

/// Which way a measure moves when a patient gets worse: a higher DAS28 or CRP, a
/// lower haemoglobin ([`LabTest::worse_when`], [`crate::clinical::das28::WORSE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Worse {
    Higher,
    Lower,
}

/// The patient facts a range depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    /// From FHIR `Patient.gender`; `other`/`unknown` give `None` (sex-neutral range).
    pub fn from_gender(gender: Option<&str>) -> Option<Sex> {
        match gender.map(str::trim) {
            Some("female") => Some(Sex::Female),
            Some("male") => Some(Sex::Male),
            _ => None,
        }
    }
}

/// A reference range in the test's unit; `None` bounds do not apply.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ReferenceRange {
    pub unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical_low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical_high: Option<f64>,
    /// What the range depended on ("female", "male, age 60", "sex unknown").
    pub basis: String,
}

impl LabTest {
    pub const ALL: [LabTest; 9] = [
        LabTest::Crp,
        LabTest::Esr,
        LabTest::Haemoglobin,
        LabTest::Alt,
        LabTest::Creatinine,
        LabTest::RheumatoidFactor,
        LabTest::AntiCcp,
        LabTest::C3,
        LabTest::C4,
    ];

    /// The test's LOINC code, the one RDT names it by: the first standard code of its
    /// concept.
    pub fn loinc(self) -> &'static str {
        self.concept().def().standard[0].1
    }

    /// Every LOINC code recorded as this test (the concept table's standard codes).
    pub fn loinc_codes(self) -> impl Iterator<Item = &'static str> {
        self.concept().def().standard.iter().filter(|(system, _)| *system == LOINC).map(|(_, code)| *code)
    }

    pub fn from_loinc(code: &str) -> Option<LabTest> {
        LabTest::ALL.into_iter().find(|t| t.loinc_codes().any(|c| c == code))
    }

    /// The test an event records, by its concept ([`Event::concept`]: LOINC, RDT's
    /// code or the install's ConceptMap); `None` for any other event.
    pub fn recorded_by(event: &Event) -> Option<LabTest> {
        let concept = event.concept()?;
        LabTest::ALL.into_iter().find(|t| t.concept() == concept)
    }

    /// The test's concept in the terminology.
    pub fn concept(self) -> Concept {
        match self {
            LabTest::Crp => Concept::Crp,
            LabTest::Esr => Concept::Esr,
            LabTest::Haemoglobin => Concept::Haemoglobin,
            LabTest::Alt => Concept::Alt,
            LabTest::Creatinine => Concept::Creatinine,
            LabTest::RheumatoidFactor => Concept::RheumatoidFactor,
            LabTest::AntiCcp => Concept::AntiCcp,
            LabTest::C3 => Concept::ComplementC3,
            LabTest::C4 => Concept::ComplementC4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LabTest::Crp => "CRP",
            LabTest::Esr => "ESR",
            LabTest::Haemoglobin => "Haemoglobin",
            LabTest::Alt => "ALT",
            LabTest::Creatinine => "Creatinine",
            LabTest::RheumatoidFactor => "Rheumatoid factor",
            LabTest::AntiCcp => "Anti-CCP",
            LabTest::C3 => "Complement C3",
            LabTest::C4 => "Complement C4",
        }
    }

    /// The words a clinician names the test by (lower case, whole words).
    pub fn words(self) -> &'static [&'static str] {
        match self {
            LabTest::Crp => &["crp", "c-reactive protein", "c reactive protein"],
            LabTest::Esr => &["esr", "sedimentation rate", "sed rate"],
            LabTest::Haemoglobin => &["haemoglobin", "hemoglobin", "hb", "hgb", "anaemic", "anemic", "anaemia", "anemia"],
            LabTest::Alt => &["alt", "alanine aminotransferase", "alanine transaminase", "sgpt"],
            LabTest::Creatinine => &["creatinine", "creat"],
            LabTest::RheumatoidFactor => &["rheumatoid factor", "rf"],
            LabTest::AntiCcp => &["anti-ccp", "ccp", "acpa"],
            LabTest::C3 => &["c3"],
            LabTest::C4 => &["c4"],
        }
    }

    /// Which way a move of this test is worse for a patient with a rheumatic
    /// disease, so "has it improved?" has one meaning per test: a rising CRP, ESR
    /// (inflammation), ALT (methotrexate's liver toxicity) or creatinine (the kidney)
    /// is worse; a falling haemoglobin (anaemia of inflammation) or complement C3/C4
    /// (consumption in active lupus) is. `None` for the antibodies (rheumatoid factor,
    /// anti-CCP), which classify a disease and are not followed for better or worse.
    pub fn worse_when(self) -> Option<Worse> {
        match self {
            LabTest::Crp | LabTest::Esr | LabTest::Alt | LabTest::Creatinine => Some(Worse::Higher),
            LabTest::Haemoglobin | LabTest::C3 | LabTest::C4 => Some(Worse::Lower),
            LabTest::RheumatoidFactor | LabTest::AntiCcp => None,
        }
    }

    /// The UCUM unit a value is read and flagged in.
    pub fn unit(self) -> &'static str {
        match self {
            LabTest::Crp => "mg/L",
            LabTest::Esr => "mm/h",
            LabTest::Haemoglobin => "g/dL",
            LabTest::Alt => "U/L",
            LabTest::Creatinine => "mg/dL",
            LabTest::RheumatoidFactor => "[IU]/mL",
            LabTest::AntiCcp => "[arb'U]/mL",
            LabTest::C3 | LabTest::C4 => "mg/dL",
        }
    }

    /// Whether a recorded unit is read as this test's unit with no conversion.
    pub fn accepts_unit(self, unit: Option<&str>) -> bool {
        unit.is_some() && units::to_canonical(self.concept(), 1.0, unit) == Ok(1.0)
    }

    /// A recorded quantity in this test's unit ([`units::to_canonical`]); `None` in a
    /// unit without an exact factor (left out, never converted by guess) or for a value
    /// that is not a number.
    pub fn in_unit(self, quantity: &Quantity) -> Option<f64> {
        units::to_canonical(self.concept(), quantity.value, quantity.unit.as_deref()).ok().filter(|v| v.is_finite())
    }

    /// This test's value in `event`, in the test's unit ([`Event::canonical_value`]);
    /// `None` when the event records another test, has no value, or a unit RDT does
    /// not read.
    pub fn read(self, event: &Event) -> Option<f64> {
        if LabTest::recorded_by(event) != Some(self) {
            return None;
        }
        event.canonical_value()
    }

    /// A slope (unit per 30 days) smaller than this in size is a stable trend: about
    /// the month-to-month noise of the test, so a "rising" trend is a change a
    /// clinician would notice.
    pub fn stable_slope_per_30_days(self) -> f64 {
        match self {
            LabTest::Crp => 1.0,
            LabTest::Esr => 2.0,
            LabTest::Haemoglobin => 0.2,
            LabTest::Alt => 3.0,
            LabTest::Creatinine => 0.05,
            LabTest::RheumatoidFactor | LabTest::AntiCcp => 2.0,
            LabTest::C3 => 5.0,
            LabTest::C4 => 1.0,
        }
    }

    /// The range for a patient of this sex and age (years), per the module's sources.
    pub fn range(self, sex: Option<Sex>, age: Option<u32>) -> ReferenceRange {
        let unit = self.unit();
        let plain = |low: Option<f64>, high: Option<f64>, basis: &str| ReferenceRange {
            unit,
            low,
            high,
            critical_low: None,
            critical_high: None,
            basis: basis.to_owned(),
        };
        let by_sex = |f: (f64, f64), m: (f64, f64)| match sex {
            Some(Sex::Female) => (Some(f.0), Some(f.1), "female"),
            Some(Sex::Male) => (Some(m.0), Some(m.1), "male"),
            None => (Some(f.0.min(m.0)), Some(f.1.max(m.1)), "sex unknown: widest of both"),
        };
        match self {
            LabTest::Crp => plain(None, Some(CRP_ULN_MG_L), "adults"),
            LabTest::Esr => match (sex, age) {
                (Some(Sex::Male), Some(a)) => plain(None, Some(f64::from(a) / 2.0), &format!("male, age {a}")),
                (Some(Sex::Female), Some(a)) => {
                    plain(None, Some((f64::from(a) + 10.0) / 2.0), &format!("female, age {a}"))
                }
                _ => plain(None, Some(20.0), "age or sex unknown"),
            },
            LabTest::Haemoglobin => {
                let (low, high, basis) = by_sex((12.0, 16.0), (13.0, 17.5));
                ReferenceRange { critical_low: Some(7.0), critical_high: Some(20.0), ..plain(low, high, basis) }
            }
            LabTest::Alt => {
                ReferenceRange { critical_high: Some(ALT_CRITICAL), ..plain(None, Some(ALT_ULN), "adults") }
            }
            LabTest::Creatinine => {
                let (low, high, basis) = by_sex((0.5, 1.1), (0.7, 1.3));
                plain(low, high, basis)
            }
            LabTest::RheumatoidFactor => plain(None, Some(RF_CUTOFF), "positivity cut-off"),
            LabTest::AntiCcp => plain(None, Some(ANTI_CCP_CUTOFF), "positivity cut-off"),
            LabTest::C3 => plain(Some(90.0), Some(180.0), "adults"),
            LabTest::C4 => plain(Some(10.0), Some(40.0), "adults"),
        }
    }
}

/// ALT upper limit of normal, U/L.
pub const ALT_ULN: f64 = 40.0;
/// ALT above which it is critical, U/L: 3x ULN, where methotrexate is withheld.
pub const ALT_CRITICAL: f64 = 3.0 * ALT_ULN;
/// Rheumatoid factor positivity cut-off, IU/mL.
pub const RF_CUTOFF: f64 = 14.0;
/// Anti-CCP positivity cut-off, U/mL.
pub const ANTI_CCP_CUTOFF: f64 = 20.0;

/// CRP upper limit of normal, mg/L: above it a CRP is raised (flagged high).
pub const CRP_ULN_MG_L: f64 = 5.0;

/// The CRP an event records, in mg/L: LOINC 1988-5, recorded in mg/L or in mg/dL
/// (x10); `None` for another code, no value, or any other unit.
pub fn crp_mg_l(event: &Event) -> Option<f64> {
    LabTest::Crp.read(event)
}

/// The ESR an event records, in mm/h: LOINC 4537-7 (Westergren) or 30341-2, recorded
/// in mm/h; `None` for another code, no value, or another unit.
pub fn esr_mm_h(event: &Event) -> Option<f64> {
    LabTest::Esr.read(event)
}

/// One lab value in the test's unit, at its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabValue {
    pub time: DateTime<Utc>,
    pub value: f64,
}

/// The values of `test` among `events`, in time order and in the test's unit
/// ([`LabTest::read`]), and how many of its values were recorded in a unit it is not
/// read in (left out, counted so a caller can say so).
pub fn lab_values(events: &[Event], test: LabTest) -> (Vec<LabValue>, usize) {
    let mut values = Vec::new();
    let mut other_units = 0;
    for e in events.iter().filter(|e| e.value.is_some() && LabTest::recorded_by(e) == Some(test)) {
        match test.read(e) {
            Some(value) => values.push(LabValue { time: e.time, value }),
            None => other_units += 1,
        }
    }
    values.sort_by_key(|v| v.time);
    (values, other_units)
}

/// Whether the record shows the patient seropositive by `at`: any rheumatoid factor at
/// or above [`RF_CUTOFF`] or anti-CCP at or above [`ANTI_CCP_CUTOFF`]; `Some(false)`
/// when either was measured and none was positive, `None` when neither was measured.
pub fn seropositive(events: &[Event], at: DateTime<Utc>) -> Option<bool> {
    let mut measured = false;
    for (test, cutoff) in [(LabTest::RheumatoidFactor, RF_CUTOFF), (LabTest::AntiCcp, ANTI_CCP_CUTOFF)] {
        for v in lab_values(events, test).0.iter().filter(|v| v.time <= at) {
            measured = true;
            if v.value >= cutoff {
                return Some(true);
            }
        }
    }
    measured.then_some(false)
}

/// Whether a CRP (mg/L) is raised: above [`CRP_ULN_MG_L`], the value the tools flag
/// high. The cohort's "CRP above 5 mg/L" trait is this.
pub fn crp_raised(mg_l: f64) -> bool {
    mg_l > CRP_ULN_MG_L
}

impl ReferenceRange {
    /// The flag of `value` (in this range's unit). Critical limits win over plain ones.
    pub fn flag(&self, value: f64) -> Flag {
        if self.critical_low.is_some_and(|c| value < c) {
            Flag::CriticalLow
        } else if self.critical_high.is_some_and(|c| value > c) {
            Flag::CriticalHigh
        } else if self.low.is_some_and(|l| value < l) {
            Flag::Low
        } else if self.high.is_some_and(|h| value > h) {
            Flag::High
        } else {
            Flag::Normal
        }
    }

    /// The value as a multiple of the upper limit (e.g. ALT "3.5x ULN"), two decimals.
    pub fn times_upper_limit(&self, value: f64) -> Option<f64> {
        self.high.filter(|h| *h > 0.0).map(|h| round(value / h, 2))
    }
}

/// Rounds to `decimals` places, for numbers a model will read.
pub fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clinical::testutil::event;
    use chrono::TimeZone;

    /// Each case: test, sex, age, value -> flag.
    #[test]
    fn flags_against_the_table() {
        let check = |t: LabTest, sex, age, value, expect: Flag| {
            assert_eq!(t.range(sex, age).flag(value), expect, "{t:?} {sex:?} {age:?} {value}");
        };
        check(LabTest::Crp, None, None, 4.9, Flag::Normal);
        check(LabTest::Crp, None, None, 5.1, Flag::High);
        check(LabTest::Alt, None, None, 40.0, Flag::Normal);
        check(LabTest::Alt, None, None, 80.0, Flag::High);
        check(LabTest::Alt, None, None, 121.0, Flag::CriticalHigh);
        check(LabTest::Haemoglobin, Some(Sex::Female), None, 12.5, Flag::Normal);
        check(LabTest::Haemoglobin, Some(Sex::Male), None, 12.5, Flag::Low);
        check(LabTest::Haemoglobin, None, None, 6.5, Flag::CriticalLow);
        check(LabTest::Esr, Some(Sex::Female), Some(60), 34.0, Flag::Normal);
        check(LabTest::Esr, Some(Sex::Male), Some(60), 34.0, Flag::High);
        check(LabTest::Esr, None, Some(60), 21.0, Flag::High);
        check(LabTest::C3, None, None, 70.0, Flag::Low);
    }

    /// Seropositive by a rheumatoid factor or an anti-CCP at or above its cut-off, by
    /// the time asked; seronegative when measured below; unknown when never measured.
    #[test]
    fn serostatus_reads_rf_and_anti_ccp_by_a_time() {
        let at = |days: i64| Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(days);
        let rf_low = event(LOINC, "11572-5", Some(RF_CUTOFF - 1.0), Some("[IU]/mL"));
        let mut ccp_high = event(LOINC, "32218-0", Some(ANTI_CCP_CUTOFF), Some("[arb'U]/mL"));
        ccp_high.time = at(100);
        let events = [rf_low.clone(), ccp_high];
        assert_eq!(seropositive(&events, at(10)), Some(false));
        assert_eq!(seropositive(&events, at(100)), Some(true));
        assert_eq!(seropositive(&events[1..], at(10)), None);
        assert_eq!(seropositive(&[], at(10)), None);
    }

    #[test]
    fn alt_reports_multiples_of_the_upper_limit() {
        let r = LabTest::Alt.range(None, None);
        assert_eq!(r.times_upper_limit(160.0), Some(4.0));
        assert_eq!(r.critical_high, Some(120.0));
    }

    #[test]
    fn units_must_match_to_be_read() {
        assert!(LabTest::Crp.accepts_unit(Some("mg/L")));
        assert!(!LabTest::Crp.accepts_unit(Some("mg/dL")), "read, but converted");
        assert!(!LabTest::Crp.accepts_unit(None));
        assert!(LabTest::AntiCcp.accepts_unit(Some("U/mL")));
        for t in LabTest::ALL {
            assert_eq!(LabTest::from_loinc(t.loinc()), Some(t));
        }
    }

    /// CRP is read in mg/L: as recorded in mg/L, x10 from mg/dL; in an unknown unit,
    /// without a unit or as not-a-number it is not read. Other codes are not CRP.
    #[test]
    fn crp_is_read_in_mg_per_litre() {
        let crp = |value: f64, unit: Option<&str>| crp_mg_l(&event(LOINC, "1988-5", Some(value), unit));
        assert_eq!(crp(12.5, Some("mg/L")), Some(12.5));
        assert_eq!(crp(1.2, Some("mg/dL")), Some(12.0));
        assert_eq!(crp(12.5, Some("nmol/L")), None);
        assert_eq!(crp(12.5, Some("mg/dl")), None, "UCUM is case-sensitive: not read by guess");
        assert_eq!(crp(12.5, None), None);
        assert_eq!(crp(f64::NAN, Some("mg/L")), None);
        assert_eq!(crp_mg_l(&event(LOINC, "1988-5", None, None)), None);
        assert_eq!(crp_mg_l(&event(LOINC, "4537-7", Some(12.5), Some("mg/L"))), None);
        assert_eq!(crp_mg_l(&event("urn:oid:1.2.3", "1988-5", Some(12.5), Some("mg/L"))), None);
        assert_eq!(crp(12.5, Some("ug/mL")), Some(12.5), "UCUM's same quantity");
    }

    /// ESR is read in mm/h under both its LOINC codes, and in no other unit.
    #[test]
    fn esr_is_read_in_mm_per_hour() {
        assert_eq!(esr_mm_h(&event(LOINC, "4537-7", Some(34.0), Some("mm/h"))), Some(34.0));
        assert_eq!(esr_mm_h(&event(LOINC, "30341-2", Some(34.0), Some("mm/h"))), Some(34.0));
        assert_eq!(esr_mm_h(&event(LOINC, "4537-7", Some(34.0), Some("mm/hr"))), None);
        assert_eq!(esr_mm_h(&event(LOINC, "1988-5", Some(34.0), Some("mm/h"))), None);
        assert_eq!(LabTest::from_loinc("30341-2"), Some(LabTest::Esr));
        assert_eq!(LabTest::Esr.loinc(), "4537-7");
    }

    /// The cohort's "raised" and the tools' flag come from one limit.
    #[test]
    fn crp_raised_is_the_high_flag() {
        for mg_l in [0.0, 4.99, CRP_ULN_MG_L, 5.01, 5.1, 50.0] {
            let flag = LabTest::Crp.range(None, None).flag(mg_l);
            assert_eq!(crp_raised(mg_l), flag == Flag::High, "{mg_l} mg/L: {flag:?}");
        }
    }
}
