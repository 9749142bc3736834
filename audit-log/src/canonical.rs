//! The canonical byte form of an entry: what is stored and what the leaf hash covers.
//!
//! # Canonical form, version 1
//!
//! The entry (`entry.rs`, `"v": 1`) as JSON text in UTF-8 with:
//! - object keys sorted by their UTF-8 bytes (= by code point), at every depth;
//! - no whitespace outside strings;
//! - strings with only `"` and `\` escaped as `\"` and `\\`, the control characters
//!   U+0008, U+0009, U+000A, U+000C, U+000D as `\b \t \n \f \r`, other characters
//!   below U+0020 as `\u00xx` (lowercase hex), everything else as itself;
//! - integers in plain decimal; other numbers in the shortest form that reads back
//!   to the same IEEE 754 double (the `ryu` algorithm as `serde_json` prints it);
//!   NaN and infinities cannot occur (JSON has none);
//! - absent optional fields left out (never `null`), times as
//!   `YYYY-MM-DDTHH:MM:SS.ffffffZ`, hashes as 64 lowercase hex digits.
//!
//! The key order is applied here, not left to `serde_json`'s map type, so a
//! dependency turning on `serde_json/preserve_order` cannot change the bytes.
//! The leaf hash is over the stored bytes, so an entry written under this version
//! keeps its hash whatever later versions do; a verifier that re-derives the bytes
//! from the parsed JSON gets the same bytes for every `"v": 1` entry.

use serde::Serialize;
use serde_json::Value;

use crate::entry::AuditEntry;

/// The canonical bytes of any JSON value.
pub fn to_canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

/// The canonical bytes of a serialisable value.
pub fn canonical_bytes_of<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    Ok(to_canonical_bytes(&serde_json::to_value(value)?))
}

/// The canonical bytes of an entry (as a `String`: canonical JSON is UTF-8).
pub fn entry_text(entry: &AuditEntry) -> String {
    // unwrap: every field of an entry serialises (no maps with non-string keys, no
    // non-finite floats that `serde_json::Value` could not hold are produced by
    // `to_value`, which maps them to null).
    let bytes = canonical_bytes_of(entry).expect("an audit entry always serialises to JSON");
    // unwrap: the writer emits only UTF-8 (strings are copied whole, the rest ASCII).
    String::from_utf8(bytes).expect("canonical JSON is UTF-8")
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(&map[key], out);
            }
            out.push(b'}');
        }
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x09 => Some(b"\\t"),
            0x0a => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            0x0d => Some(b"\\r"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::entry::{EntryBody, NewEntry, Principal, Role, Seq};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn check(value: Value, expect: &str) {
        assert_eq!(String::from_utf8(to_canonical_bytes(&value)).unwrap(), expect);
    }

    #[test]
    fn keys_sorted_compact_and_minimal_escapes() {
        check(json!({"b": 1, "a": [true, null, "x"], "A": {"z": 0, "y": -2}}), r#"{"A":{"y":-2,"z":0},"a":[true,null,"x"],"b":1}"#);
        check(json!("q\"\\\n\t\u{1}é€"), "\"q\\\"\\\\\\n\\t\\u0001é€\"");
        check(json!(0.1), "0.1");
        check(json!(1.5e-7), "1.5e-7");
        check(json!(u64::MAX), "18446744073709551615");
        // Code-point order: "é" (U+00E9) sorts after "z".
        check(json!({"é": 1, "z": 2}), r#"{"z":2,"é":1}"#);
    }

    /// The canonical text parses back to the same value and re-serialises to the
    /// same bytes, so the form is a fixed point.
    #[test]
    fn canonical_text_is_a_fixed_point() {
        let v = json!({"k": [1, 2.25, "s\u{7f}\u{2028}"], "n": {"x": null}});
        let once = to_canonical_bytes(&v);
        let parsed: Value = serde_json::from_slice(&once).unwrap();
        assert_eq!(parsed, v);
        assert_eq!(to_canonical_bytes(&parsed), once);
    }

    /// Golden bytes of one entry: changing them means a new FORMAT_VERSION.
    #[test]
    fn entry_bytes_are_pinned() {
        let time = Utc.with_ymd_and_hms(2024, 5, 1, 9, 30, 0).unwrap();
        let new = NewEntry::new(
            Principal::new("dr.a", Role::Clinician),
            EntryBody::Question { question: "DAS28 trend?".into(), reading: None, follows: None },
        )
        .session("s1")
        .patients(["p1"])
        .at(time);
        let entry = AuditEntry::place(new, Seq(3), Some(Digest([0xab; 32])), time);
        let text = entry_text(&entry);
        assert_eq!(
            text,
            format!(
                r#"{{"kind":"question","patients":["p1"],"prev":"{}","principal":{{"role":"clinician","user":"dr.a"}},"question":"DAS28 trend?","seq":3,"session":"s1","time":"2024-05-01T09:30:00.000000Z","v":1}}"#,
                "ab".repeat(32)
            )
        );
        let back: AuditEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, entry);
        assert_eq!(entry_text(&back), text);
    }

    /// A follow-up question's link to the turn before is one more optional field:
    /// the entry above (no link) keeps its pinned bytes, and a linked one writes the
    /// link sorted like every object and reads back to the same bytes.
    #[test]
    fn a_follow_up_link_is_an_optional_field() {
        let time = Utc.with_ymd_and_hms(2024, 5, 1, 9, 31, 0).unwrap();
        let follows = crate::TurnLink { seq: Seq(3), entry: Digest([0xcd; 32]), read_against: Some(Seq(3)) };
        let body = EntryBody::Question { question: "and the ESR?".into(), reading: None, follows: Some(follows) };
        let new = NewEntry::new(Principal::new("dr.a", Role::Clinician), body).session("s1").patients(["p1"]).at(time);
        let entry = AuditEntry::place(new, Seq(7), Some(Digest([0xab; 32])), time);
        let text = entry_text(&entry);
        let link = format!(r#""follows":{{"entry":"{}","read_against":3,"seq":3}}"#, "cd".repeat(32));
        assert!(text.starts_with(&format!(r#"{{{link},"kind":"question","patients":["p1"]"#)), "{text}");
        let back: AuditEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, entry);
        assert_eq!(entry_text(&back), text);
    }
}
