//! Reading an install's mappings from a FHIR R4 `ConceptMap`.
//!
//! Each `group` maps one source system (the hospital's, e.g. `urn:oid:1.2.3`) to a
//! target system: RDT's own (`urn:rdt:code`, the documented target) or a standard one
//! whose codes the concept table knows (LOINC). An element's target is applied when its
//! `equivalence` is `equivalent` or `equal`; a `wider`, `narrower`, `inexact` or
//! `relatedto` target would read a different measure as this one, so it is counted and
//! left out; `unmatched` and `disjoint` say there is no mapping. Anything malformed
//! refuses the whole map, naming the element and field: half a map is never applied.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::concept::Concept;
use crate::event::Code;

/// One mapping: a source code and the concept it is read as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEntry {
    pub system: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    pub concept: Concept,
}

/// A validated ConceptMap, ready to store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConceptMapping {
    /// `ConceptMap.url`, else `ConceptMap.id`, else the file name: what identifies the
    /// map, so importing a new version of it replaces the old one.
    pub url: String,
    pub name: Option<String>,
    pub version: Option<String>,
    /// sha256 of the file's bytes: the version an audit entry names.
    pub sha256: String,
    pub entries: Vec<MapEntry>,
    /// Targets left out because they are not equivalent (wider, narrower, ...).
    pub not_equivalent: usize,
}

/// A ConceptMap that cannot be applied, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {element}: `{field}` {problem}")]
pub struct ConceptMapError {
    pub file: String,
    /// The element's path (`group[0].element[3]`), or `ConceptMap` for the resource.
    pub element: String,
    pub field: String,
    pub problem: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMap {
    resource_type: Option<String>,
    id: Option<String>,
    url: Option<String>,
    name: Option<String>,
    title: Option<String>,
    version: Option<String>,
    #[serde(default)]
    group: Vec<RawGroup>,
}

#[derive(Deserialize)]
struct RawGroup {
    source: Option<String>,
    target: Option<String>,
    #[serde(default)]
    element: Vec<RawElement>,
}

#[derive(Deserialize)]
struct RawElement {
    code: Option<String>,
    display: Option<String>,
    #[serde(default)]
    target: Vec<RawTarget>,
}

#[derive(Deserialize)]
struct RawTarget {
    code: Option<String>,
    equivalence: Option<String>,
}

impl ConceptMapping {
    /// Validates a ConceptMap read from `file` (named in errors).
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, ConceptMapError> {
        let err = |element: &str, field: &str, problem: String| ConceptMapError {
            file: file.to_owned(),
            element: element.to_owned(),
            field: field.to_owned(),
            problem,
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let raw: RawMap = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            err("ConceptMap", if path == "." { "(document)" } else { &path }, format!("is not valid: {}", e.inner()))
        })?;
        if raw.resource_type.as_deref() != Some("ConceptMap") {
            let found = raw.resource_type.as_deref().unwrap_or("nothing");
            return Err(err("ConceptMap", "resourceType", format!("must be ConceptMap, found {found}")));
        }
        if raw.group.is_empty() {
            return Err(err("ConceptMap", "group", "is empty: the map maps nothing".into()));
        }
        let mut entries: Vec<MapEntry> = Vec::new();
        let mut seen: HashMap<(String, String), (Concept, String)> = HashMap::new();
        let mut not_equivalent = 0;
        for (g, group) in raw.group.iter().enumerate() {
            let at = format!("group[{g}]");
            let source = nonempty(group.source.as_deref()).ok_or_else(|| err(&at, "source", "is missing".into()))?;
            let target_system =
                nonempty(group.target.as_deref()).ok_or_else(|| err(&at, "target", "is missing".into()))?;
            for (i, element) in group.element.iter().enumerate() {
                let at = format!("group[{g}].element[{i}]");
                let code = nonempty(element.code.as_deref()).ok_or_else(|| err(&at, "code", "is missing".into()))?;
                let mut concept: Option<Concept> = None;
                for (t, target) in element.target.iter().enumerate() {
                    let field = |name: &str| format!("target[{t}].{name}");
                    let equivalence = nonempty(target.equivalence.as_deref())
                        .ok_or_else(|| err(&at, &field("equivalence"), "is missing".into()))?;
                    match equivalence {
                        "equivalent" | "equal" => {}
                        "wider" | "subsumes" | "narrower" | "specializes" | "inexact" | "relatedto" => {
                            not_equivalent += 1;
                            continue;
                        }
                        "unmatched" | "disjoint" => continue,
                        other => {
                            return Err(err(&at, &field("equivalence"), format!("`{other}` is not an R4 equivalence")))
                        }
                    }
                    let target_code = nonempty(target.code.as_deref())
                        .ok_or_else(|| err(&at, &field("code"), "is missing".into()))?;
                    let named = Code { system: target_system.to_owned(), code: target_code.to_owned(), display: None };
                    let found = Concept::of_code(&named).ok_or_else(|| {
                        err(
                            &at,
                            &field("code"),
                            format!("{target_system}|{target_code} is not one of RDT's concepts"),
                        )
                    })?;
                    if concept.is_some_and(|c| c != found) {
                        return Err(err(&at, "target", "maps one code to two concepts".into()));
                    }
                    concept = Some(found);
                }
                let Some(concept) = concept else { continue };
                let key = (source.to_owned(), code.to_owned());
                if let Some((earlier, where_)) = seen.get(&key) {
                    if *earlier != concept {
                        return Err(err(&at, "code", format!("{source}|{code} is already mapped to {earlier} at {where_}")));
                    }
                    continue;
                }
                seen.insert(key, (concept, at.clone()));
                entries.push(MapEntry {
                    system: source.to_owned(),
                    code: code.to_owned(),
                    display: element.display.clone(),
                    concept,
                });
            }
        }
        let url = raw.url.or(raw.id).unwrap_or_else(|| file.to_owned());
        Ok(ConceptMapping {
            url,
            name: raw.title.or(raw.name),
            version: raw.version,
            sha256: hex(&Sha256::digest(bytes)),
            entries,
            not_equivalent,
        })
    }

    /// A ConceptMap resource of `entries` (RDT's own concepts as targets), as
    /// `rdt synth --coding local` writes beside its export.
    pub fn to_fhir(url: &str, name: &str, entries: &[MapEntry]) -> serde_json::Value {
        let mut groups: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
        for e in entries {
            let element = serde_json::json!({
                "code": e.code,
                "display": e.display,
                "target": [{"code": e.concept.id(), "display": e.concept.display(), "equivalence": "equivalent"}],
            });
            match groups.iter_mut().find(|(s, _)| *s == e.system) {
                Some((_, elements)) => elements.push(element),
                None => groups.push((e.system.clone(), vec![element])),
            }
        }
        serde_json::json!({
            "resourceType": "ConceptMap",
            "url": url,
            "name": name,
            "status": "active",
            "targetUri": super::concept::RDT_CODE,
            "group": groups.into_iter().map(|(source, element)| serde_json::json!({
                "source": source,
                "target": super::concept::RDT_CODE,
                "element": element,
            })).collect::<Vec<_>>(),
        })
    }
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = r#"{"resourceType":"ConceptMap","url":"urn:example:map","version":"2","name":"Local RA",
      "group":[{"source":"urn:oid:1.2.3","target":"urn:rdt:code","element":[
        {"code":"D28E","display":"DAS28 (BSR)","target":[{"code":"das28-esr","equivalence":"equivalent"}]},
        {"code":"TJC","target":[{"code":"tjc28","equivalence":"equal"}]},
        {"code":"HAQ","target":[{"code":"das28-esr","equivalence":"relatedto"}]},
        {"code":"XX","target":[{"equivalence":"unmatched"}]}]},
       {"source":"urn:oid:1.2.4","target":"http://loinc.org","element":[
        {"code":"CRP-HS","target":[{"code":"1988-5","equivalence":"equivalent"}]}]}]}"#;

    #[test]
    fn reads_equivalent_targets_and_counts_the_rest() {
        let m = ConceptMapping::parse("map.json", MAP.as_bytes()).unwrap();
        assert_eq!(m.url, "urn:example:map");
        assert_eq!(m.version.as_deref(), Some("2"));
        let read: Vec<(&str, Concept)> = m.entries.iter().map(|e| (e.code.as_str(), e.concept)).collect();
        assert_eq!(read, [("D28E", Concept::Das28Esr), ("TJC", Concept::TenderJoints28), ("CRP-HS", Concept::Crp)]);
        assert_eq!(m.not_equivalent, 1);
        assert_eq!(m.sha256.len(), 64);
    }

    #[test]
    fn a_bad_element_is_refused_naming_file_element_and_field() {
        let bad = MAP.replace(r#""code":"tjc28""#, r#""code":"tjc-28""#);
        let e = ConceptMapping::parse("map.json", bad.as_bytes()).unwrap_err();
        assert_eq!((e.file.as_str(), e.element.as_str(), e.field.as_str()), ("map.json", "group[0].element[1]", "target[0].code"));
        assert!(e.to_string().contains("urn:rdt:code|tjc-28 is not one of RDT's concepts"), "{e}");

        let bad = MAP.replace(r#","equivalence":"equal""#, "");
        let e = ConceptMapping::parse("map.json", bad.as_bytes()).unwrap_err();
        assert_eq!((e.element.as_str(), e.field.as_str()), ("group[0].element[1]", "target[0].equivalence"));

        let bad = MAP.replace(r#""code":"TJC","#, "");
        let e = ConceptMapping::parse("map.json", bad.as_bytes()).unwrap_err();
        assert_eq!((e.element.as_str(), e.field.as_str()), ("group[0].element[1]", "code"));

        let e = ConceptMapping::parse("p.json", br#"{"resourceType":"Patient"}"#).unwrap_err();
        assert_eq!(e.field, "resourceType");
        let e = ConceptMapping::parse("x.json", b"{\"group\": 3}").unwrap_err();
        assert_eq!(e.field, "group");
    }

    #[test]
    fn one_code_two_concepts_is_refused() {
        let bad = MAP.replace(r#""code":"TJC""#, r#""code":"D28E""#);
        let e = ConceptMapping::parse("map.json", bad.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("already mapped to das28-esr at group[0].element[0]"), "{e}");
    }

    #[test]
    fn written_maps_read_back() {
        let entries = vec![MapEntry {
            system: "urn:oid:9".into(),
            code: "A".into(),
            display: Some("a".into()),
            concept: Concept::Cdai,
        }];
        let json = ConceptMapping::to_fhir("urn:m", "m", &entries).to_string();
        assert_eq!(ConceptMapping::parse("m.json", json.as_bytes()).unwrap().entries, entries);
    }
}
