//! The snapshot baseline's features: what a clinician sees at the latest visit.
//!
//! Latest DAS28 and its parts, CRP, ESR, age, sex, disease duration and the drug
//! classes running, each as of the index time. A value the record lacks is 0 with a
//! 0 "measured" flag beside it, so the regression can tell "absent" from "zero".

use chrono::{DateTime, Utc};

use super::record::ClinicalRecord;
use journey::clinical::drugs::DrugClass;

/// The names of [`snapshot_features`]' columns, in order.
pub const FEATURE_NAMES: [&str; 25] = [
    "das28",
    "das28_measured",
    "tjc28",
    "tjc28_measured",
    "sjc28",
    "sjc28_measured",
    "patient_global",
    "patient_global_measured",
    "log_crp",
    "crp_measured",
    "esr",
    "esr_measured",
    "age_years",
    "age_known",
    "female",
    "sex_known",
    "disease_years",
    "disease_known",
    "on_methotrexate",
    "on_csdmard",
    "on_tnf_inhibitor",
    "on_other_biologic",
    "on_jak_inhibitor",
    "on_immunosuppressant",
    "on_glucocorticoid",
];

/// The latest-visit features of a record as of `at`.
pub fn snapshot_features(record: &ClinicalRecord, at: DateTime<Utc>) -> Vec<f64> {
    let mut out = Vec::with_capacity(FEATURE_NAMES.len());
    let mut push = |value: Option<f64>| {
        out.push(value.unwrap_or(0.0));
        out.push(if value.is_some() { 1.0 } else { 0.0 });
    };
    let das28 = record.das28.iter().rev().find(|r| r.time <= at);
    push(das28.map(|r| r.score));
    push(das28.and_then(|r| r.tjc28));
    push(das28.and_then(|r| r.sjc28));
    push(das28.and_then(|r| r.patient_global_vas));
    push(record.crp_at(at).map(|v| v.max(0.0).ln_1p()));
    push(record.esr_at(at));
    let date = at.date_naive();
    push(record.birth.map(|b| (date - b).num_days() as f64 / 365.25));
    push(record.female);
    push(record.first_diagnosis.filter(|d| *d <= at).map(|d| (at - d).num_days() as f64 / 365.25));
    let running = |pick: &dyn Fn(&journey::clinical::Drug) -> bool| {
        let on = record.courses.iter().any(|c| c.ongoing_on(date) && c.drug.is_some_and(pick));
        if on {
            1.0
        } else {
            0.0
        }
    };
    out.push(running(&|d| d.is_methotrexate()));
    for class in [
        DrugClass::Csdmard,
        DrugClass::TnfInhibitor,
        DrugClass::OtherBiologic,
        DrugClass::JakInhibitor,
        DrugClass::Immunosuppressant,
        DrugClass::Glucocorticoid,
    ] {
        out.push(running(&|d| d.class == class));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::clinical::drugs::METHOTREXATE;
    use crate::cohort::testutil::{das28, drug, Journey};
    use chrono::TimeZone;

    #[test]
    fn features_are_as_of_the_index_time() {
        let j = Journey::new(vec![das28(0, 5.5), das28(100, 3.0), drug(10, Some(50), METHOTREXATE)]);
        let r = ClinicalRecord::read(&j.events);
        let at = |day: i64| Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day);
        let f = snapshot_features(&r, at(20));
        assert_eq!(f.len(), FEATURE_NAMES.len());
        assert_eq!((f[0], f[1]), (5.5, 1.0), "the reading of day 0, not day 100's");
        assert_eq!((f[8], f[9]), (0.0, 0.0), "no CRP: absent, flagged");
        assert_eq!(f[18], 1.0, "on methotrexate at day 20");
        let later = snapshot_features(&r, at(60));
        assert_eq!((later[18], later[19]), (0.0, 0.0), "stopped at day 50");
    }
}
