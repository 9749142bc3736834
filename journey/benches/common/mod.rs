//! Input shared by the journey benches: the Synthea fixtures, replicated.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Writes `copies` of the fixtures into `out/bundles` (as Bundles) and `out/ndjson`
/// (one NDJSON file per resource type); returns (resources per layout, copies).
pub fn replicate(fixtures: &Path, out: &Path, min_resources: usize) -> (usize, usize) {
    let mut bundles: Vec<(String, String)> = Vec::new();
    let mut per_copy = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let bundle: Value = serde_json::from_str(&text).unwrap();
        per_copy += bundle["entry"].as_array().map_or(0, Vec::len);
        bundles.push((path.file_name().unwrap().to_string_lossy().into_owned(), text));
    }
    let copies = min_resources.div_ceil(per_copy);
    let done = out.join("complete");
    if done.exists() {
        return (per_copy * copies, copies);
    }
    std::fs::create_dir_all(out.join("bundles")).unwrap();
    std::fs::create_dir_all(out.join("ndjson")).unwrap();
    let mut ndjson: BTreeMap<String, std::io::BufWriter<std::fs::File>> = BTreeMap::new();
    for copy in 0..copies {
        for (name, text) in &bundles {
            // Prefix every id and urn:uuid reference: each copy is distinct data.
            let text = text.replace("\"id\": \"", &format!("\"id\": \"c{copy}-")).replace(
                "urn:uuid:",
                &format!("urn:uuid:c{copy}-"),
            );
            std::fs::write(out.join("bundles").join(format!("c{copy}-{name}")), &text).unwrap();
            let bundle: Value = serde_json::from_str(&text).unwrap();
            for entry in bundle["entry"].as_array().unwrap() {
                let mut resource = entry["resource"].clone();
                let resource_type = resource["resourceType"].as_str().unwrap().to_owned();
                relative_references(&mut resource);
                let file = ndjson.entry(resource_type.clone()).or_insert_with(|| {
                    let f = std::fs::File::create(out.join("ndjson").join(format!("{resource_type}.ndjson"))).unwrap();
                    std::io::BufWriter::new(f)
                });
                writeln!(file, "{resource}").unwrap();
            }
        }
    }
    for (_, mut f) in ndjson {
        f.flush().unwrap();
    }
    std::fs::write(done, "").unwrap();
    (per_copy * copies, copies)
}

/// Bulk Data uses `Patient/id` references; the fixtures' `urn:uuid:` ones only make
/// sense inside their Bundle. Every Synthea subject/patient reference is to a Patient.
fn relative_references(resource: &mut Value) {
    for field in ["subject", "patient"] {
        if let Some(r) = resource[field]["reference"].as_str() {
            if let Some(id) = r.strip_prefix("urn:uuid:") {
                resource[field]["reference"] = Value::String(format!("Patient/{id}"));
            }
        }
    }
}
