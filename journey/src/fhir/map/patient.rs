//! Patient -> the patient record, plus birth, sex and death as demographic events.
//!
//! Birth and death use MEDS's reserved codes (`MEDS_BIRTH`, `MEDS_DEATH`) so the
//! journey starts and ends the way MEDS tooling expects.

use serde::Deserialize;

use super::{first_time, parse, Mapped, Stamp};
use crate::event::{Code, Modality, PatientId, Phase};
use crate::fhir::datatypes::HumanName;
use crate::fhir::error::FieldError;
use crate::fhir::time::parse_fhir_date;
use crate::store::PatientRecord;

pub const MEDS_SYSTEM: &str = "MEDS";
const GENDER_SYSTEM: &str = "http://hl7.org/fhir/administrative-gender";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Patient {
    #[serde(default)]
    name: Vec<HumanName>,
    gender: Option<String>,
    birth_date: Option<String>,
    deceased_date_time: Option<String>,
}

pub(super) fn map(json: &str, stamp: &Stamp) -> Result<Mapped, FieldError> {
    let p: Patient = parse(json)?;
    let id = PatientId::new(stamp.resource_id).ok_or_else(|| FieldError::missing("id"))?;
    let birth_date =
        p.birth_date.as_deref().map(parse_fhir_date).transpose().map_err(|why| FieldError::invalid("birthDate", why))?;
    let deceased_at = first_time(&[("deceasedDateTime", p.deceased_date_time.as_deref())])?;
    let name = p.name.iter().find(|n| n.use_.as_deref() == Some("official")).or(p.name.first()).and_then(HumanName::full);

    let mut events = Vec::new();
    if let Some(birth) = birth_date {
        let born = birth.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        let meds = |code: &str| Code { system: MEDS_SYSTEM.into(), code: code.into(), display: None };
        events.push(stamp.event(&id, "birth", born, meds("MEDS_BIRTH"), Modality::Demographic, Phase::Point));
        if let Some(gender) = &p.gender {
            let code = Code { system: GENDER_SYSTEM.into(), code: gender.clone(), display: None };
            events.push(stamp.event(&id, "gender", born, code, Modality::Demographic, Phase::Point));
        }
    }
    if let Some(died) = deceased_at {
        let code = Code { system: MEDS_SYSTEM.into(), code: "MEDS_DEATH".into(), display: None };
        events.push(stamp.event(&id, "death", died, code, Modality::Demographic, Phase::Point));
    }
    let record = PatientRecord {
        id,
        source: stamp.source.clone(),
        name,
        birth_date,
        sex: p.gender,
        deceased_at,
        source_file: Some(stamp.file.to_owned()),
    };
    Ok(Mapped { patient: Some(record), ..Mapped::events(events) })
}

#[cfg(test)]
mod tests {
    use crate::fhir::map::testutil::map_json;

    #[test]
    fn keeps_demographics_and_emits_birth_and_death() {
        let m = map_json(
            r#"{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1960-03-04",
                "deceasedDateTime":"2020-01-01T10:00:00Z",
                "name":[{"use":"usual","given":["Ann"]},{"use":"official","given":["Ann","B."],"family":"Smith"}]}"#,
        )
        .unwrap();
        let p = m.patient.unwrap();
        assert_eq!(p.name.as_deref(), Some("Ann B. Smith"));
        assert_eq!(p.birth_date.unwrap().to_string(), "1960-03-04");
        let codes: Vec<&str> = m.events.iter().map(|e| e.code.code.as_str()).collect();
        assert_eq!(codes, ["MEDS_BIRTH", "female", "MEDS_DEATH"]);
    }

    #[test]
    fn bad_birth_date_names_the_field() {
        let e = map_json(r#"{"resourceType":"Patient","id":"p1","birthDate":"04/03/1960"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("birthDate"));
    }
}
