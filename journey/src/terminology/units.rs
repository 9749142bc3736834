//! Units: a recorded value in its concept's canonical UCUM unit.
//!
//! A small table for RDT's concepts only (no UCUM crate on crates.io parses and
//! converts the units these records carry and is kept up; a full UCUM engine would
//! also need each analyte's molar mass, which only this table knows). A value converts
//! when its unit is the canonical one, a UCUM unit of the same dimension with an exact
//! factor (mg/dL -> mg/L, g/L -> g/dL, cm -> mm, kU/L -> U/mL, ukat/L -> U/L), or, for
//! creatinine, umol/L through its molar mass. UCUM is case-sensitive and so is this
//! table: `mg/dl` is not read, never converted by guess. A value in any other unit is
//! kept as written and reported ([`UnitError`]); the clinical layer neither flags it
//! nor uses it as a feature.

use super::concept::Concept;

/// A unit the concept's value cannot be read in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("{concept} has no unit; it is read in {canonical}")]
    Missing { concept: Concept, canonical: &'static str },
    #[error("{concept} in `{unit}` cannot be converted to {canonical}")]
    Unconvertible { concept: Concept, unit: String, canonical: &'static str },
}

/// Creatinine's molar mass, g/mol: 1 mg/dL = 88.42 umol/L.
const CREATININE_UMOL_L_PER_MG_DL: f64 = 88.42;

/// Mass concentrations, as mg/L per unit.
const MASS_PER_VOLUME: [(&str, f64); 6] =
    [("mg/L", 1.0), ("mg/dL", 10.0), ("g/L", 1000.0), ("g/dL", 10_000.0), ("ug/mL", 1.0), ("mg/mL", 1000.0)];
/// Catalytic activity, as U/L per unit (1 ukat/L = 60 U/L).
const ACTIVITY_PER_VOLUME: [(&str, f64); 4] = [("U/L", 1.0), ("[IU]/L", 1.0), ("ukat/L", 60.0), ("nkat/L", 0.06)];
/// Arbitrary or international units per volume, as units per mL.
const UNITS_PER_VOLUME: [(&str, f64); 6] =
    [("[IU]/mL", 1.0), ("k[IU]/L", 1.0), ("[arb'U]/mL", 1.0), ("U/mL", 1.0), ("kU/L", 1.0), ("[U]/mL", 1.0)];
/// Lengths (a visual analogue scale), as mm per unit.
const LENGTH: [(&str, f64); 2] = [("mm", 1.0), ("cm", 10.0)];
/// Sedimentation rates, as mm/h per unit.
const RATE: [(&str, f64); 1] = [("mm/h", 1.0)];
/// Percentages.
const PERCENT: [(&str, f64); 1] = [("%", 1.0)];

/// The factor table a concept's canonical unit belongs to; `None` for counts and
/// scores (dimensionless, read as written).
fn dimension(concept: Concept) -> Option<&'static [(&'static str, f64)]> {
    let unit = concept.unit();
    [&MASS_PER_VOLUME[..], &ACTIVITY_PER_VOLUME, &UNITS_PER_VOLUME, &LENGTH, &RATE, &PERCENT]
        .into_iter()
        .find(|table| table.iter().any(|(u, _)| *u == unit))
}

fn factor(table: &[(&str, f64)], unit: &str) -> Option<f64> {
    table.iter().find(|(u, _)| *u == unit).map(|(_, f)| *f)
}

/// Whether a unit is dimensionless: absent, `1`, or a UCUM annotation (`{score}`).
fn dimensionless(unit: Option<&str>) -> bool {
    match unit.map(str::trim) {
        None | Some("") | Some("1") => true,
        Some(u) => u.starts_with('{') && u.ends_with('}'),
    }
}

/// `value` recorded in `unit`, in `concept`'s canonical unit.
pub fn to_canonical(concept: Concept, value: f64, unit: Option<&str>) -> Result<f64, UnitError> {
    let canonical = concept.unit();
    let Some(table) = dimension(concept) else {
        // Counts and scores: any dimensionless spelling is the same number.
        return if dimensionless(unit) {
            Ok(value)
        } else {
            Err(UnitError::Unconvertible { concept, unit: unit.unwrap_or_default().to_owned(), canonical })
        };
    };
    let unit = unit.map(str::trim).filter(|u| !u.is_empty()).ok_or(UnitError::Missing { concept, canonical })?;
    if concept == Concept::Creatinine && unit == "umol/L" {
        return Ok(value / CREATININE_UMOL_L_PER_MG_DL);
    }
    match (factor(table, unit), factor(table, canonical)) {
        (Some(from), Some(to)) if from == to => Ok(value),
        // Rounded to 9 decimals: 1.23 mg/dL is 12.3 mg/L, not 12.299999999999999, so a
        // value reads the same whichever unit it was recorded in.
        (Some(from), Some(to)) => Ok((value * from / to * 1e9).round() / 1e9),
        _ => Err(UnitError::Unconvertible { concept, unit: unit.to_owned(), canonical }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn converts_within_a_dimension() {
        let ok = |c, v, u| to_canonical(c, v, Some(u)).unwrap();
        assert_eq!(ok(Concept::Crp, 12.5, "mg/L"), 12.5);
        assert!(close(ok(Concept::Crp, 1.2, "mg/dL"), 12.0));
        assert_eq!(ok(Concept::Crp, 1.23, "mg/dL"), 12.3, "exactly the mg/L value");
        assert!(close(ok(Concept::Haemoglobin, 125.0, "g/L"), 12.5));
        assert!(close(ok(Concept::ComplementC3, 1.2, "g/L"), 120.0));
        assert!(close(ok(Concept::Creatinine, 88.42, "umol/L"), 1.0));
        assert!(close(ok(Concept::PatientGlobal, 4.5, "cm"), 45.0));
        assert!(close(ok(Concept::Alt, 1.0, "ukat/L"), 60.0));
        assert_eq!(ok(Concept::AntiCcp, 25.0, "U/mL"), 25.0);
        assert_eq!(ok(Concept::RheumatoidFactor, 25.0, "k[IU]/L"), 25.0);
    }

    #[test]
    fn scores_read_any_dimensionless_spelling() {
        for unit in [None, Some("1"), Some("{score}"), Some("{joints}")] {
            assert_eq!(to_canonical(Concept::Das28Esr, 4.2, unit), Ok(4.2));
        }
        assert!(to_canonical(Concept::TenderJoints28, 4.0, Some("mm")).is_err());
    }

    #[test]
    fn other_units_are_refused_not_guessed() {
        assert!(matches!(to_canonical(Concept::Crp, 1.0, Some("mg/dl")), Err(UnitError::Unconvertible { .. })));
        assert!(matches!(to_canonical(Concept::Crp, 1.0, Some("nmol/L")), Err(UnitError::Unconvertible { .. })));
        assert!(matches!(to_canonical(Concept::Crp, 1.0, None), Err(UnitError::Missing { .. })));
        assert!(to_canonical(Concept::Esr, 30.0, Some("mm/hr")).is_err());
        assert!(to_canonical(Concept::Haemoglobin, 8.0, Some("mmol/L")).is_err(), "no molar factor for Hb");
        let message = to_canonical(Concept::Crp, 1.0, Some("nmol/L")).unwrap_err().to_string();
        assert_eq!(message, "crp in `nmol/L` cannot be converted to mg/L");
    }
}
