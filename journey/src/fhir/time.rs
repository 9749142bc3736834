//! FHIR `date`, `dateTime` and `instant` values as UTC times.
//!
//! FHIR allows partial dates (`2019`, `2019-05`); a journey needs a point, so a
//! partial date is taken at its first day, and a date without a time at midnight UTC.
//! A time without a zone (not valid FHIR, but seen in hospital exports) is read as UTC
//! rather than refused, since refusing would lose the whole file.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses a FHIR date/dateTime/instant; the error says what was wrong with the text.
pub fn parse_fhir_time(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(Utc.from_utc_datetime(&t));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        return Ok(Utc.from_utc_datetime(&t));
    }
    parse_fhir_date(s).map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists")))
}

/// Parses a FHIR `date` (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`).
pub fn parse_fhir_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not a FHIR date or dateTime");
    let parts: Vec<&str> = s.split('-').collect();
    let number = |p: &str, len: usize| -> Result<u32, String> {
        if p.len() == len && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (year, month, day) = match parts.as_slice() {
        [y] => (number(y, 4)?, 1, 1),
        [y, m] => (number(y, 4)?, number(m, 2)?, 1),
        [y, m, d] => (number(y, 4)?, number(m, 2)?, number(d, 2)?),
        _ => return Err(bad()),
    };
    NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(parse_fhir_time(input).unwrap().to_rfc3339(), expect, "input {input}");
    }

    #[test]
    fn reads_every_fhir_precision() {
        check("2019-05-31T16:12:43+00:00", "2019-05-31T16:12:43+00:00");
        check("2019-05-31T18:12:43+02:00", "2019-05-31T16:12:43+00:00");
        check("2019-05-31T16:12:43.639Z", "2019-05-31T16:12:43.639+00:00");
        check("2019-05-31", "2019-05-31T00:00:00+00:00");
        check("2019-05", "2019-05-01T00:00:00+00:00");
        check("2019", "2019-01-01T00:00:00+00:00");
        check("2019-05-31T16:12:43", "2019-05-31T16:12:43+00:00");
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in ["", "yesterday", "2019-13-01", "2019-02-30", "19-05-01", "2019/05/01"] {
            let err = parse_fhir_time(bad).unwrap_err();
            assert!(err.contains("not a FHIR date"), "{bad}: {err}");
        }
    }
}
