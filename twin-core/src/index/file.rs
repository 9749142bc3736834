//! The in-process index on disk: a snapshot file plus an append-only log.
//!
//! ```text
//! <data-dir>/index/
//!   points.bin   snapshot: magic, JSON header {format, dim, twin_version, count},
//!                one record per point, SHA-256 of all before it
//!   points.log   ops since the snapshot: frames [u32 length][op][8 bytes of SHA-256]
//!   graph.hnsw   the HNSW graph of the snapshot's points, tied to the snapshot's
//!                SHA-256 (written only above the exact/graph switch-over; see graph.rs)
//! ```
//! Crash safety: a snapshot is written to a temporary file in the same directory,
//! fsynced and renamed over the old one (a reader sees the old or the new file, never
//! half of one); the log is truncated only after that. A log frame is appended and
//! fsynced; a frame torn by a crash fails its checksum and is dropped with everything
//! after it. Replaying a log over a snapshot that already holds its ops gives the same
//! points (an upsert sets a point, a removal removes a patient's points: both are
//! idempotent), so a crash between the rename and the truncation loses nothing.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use audit_log::Digest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::error::{io, IndexError};
use super::point::{PointId, SnapshotKind};
use super::table::Payload;
use journey::event::PatientId;

pub const SNAPSHOT_FILE: &str = "points.bin";
pub const LOG_FILE: &str = "points.log";
const SNAPSHOT_MAGIC: &[u8; 8] = b"RDTIDX1\n";
const LOG_MAGIC: &[u8; 8] = b"RDTLOG1\n";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub dim: usize,
    pub twin_version: Option<Digest>,
    pub count: usize,
}

/// One change, as logged and replayed.
#[derive(Debug, Clone)]
pub enum Op {
    Upsert(Payload, Vec<f32>),
    RemovePatient(PatientId),
}

const OP_UPSERT: u8 = 1;
const OP_REMOVE_PATIENT: u8 = 2;

fn put_patient(out: &mut Vec<u8>, patient: &PatientId) {
    let bytes = patient.as_str().as_bytes();
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

pub fn encode_upsert(out: &mut Vec<u8>, payload: &Payload, vector: &[f32]) {
    out.push(OP_UPSERT);
    put_patient(out, &payload.patient);
    out.push(payload.kind.code());
    out.extend_from_slice(&payload.index_time.timestamp_micros().to_le_bytes());
    out.extend_from_slice(&payload.follow_up_days.to_le_bytes());
    for x in vector {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn encode(op: &Op) -> Vec<u8> {
    let mut out = Vec::new();
    match op {
        Op::Upsert(payload, vector) => encode_upsert(&mut out, payload, vector),
        Op::RemovePatient(patient) => {
            out.push(OP_REMOVE_PATIENT);
            put_patient(&mut out, patient);
        }
    }
    out
}

/// Reads ops from a byte slice; `Err(message)` names what was malformed.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or("truncated record")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn op(&mut self, dim: usize) -> Result<Op, String> {
        let code = self.take(1)?[0];
        let len = self.u32()? as usize;
        let patient = std::str::from_utf8(self.take(len)?).map_err(|_| "patient id is not UTF-8")?;
        let patient = PatientId::new(patient).ok_or("empty patient id")?;
        match code {
            OP_UPSERT => {
                let kind = SnapshotKind::from_code(self.take(1)?[0]).ok_or("unknown snapshot kind")?;
                let micros = i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
                let index_time = DateTime::<Utc>::from_timestamp_micros(micros).ok_or("index time out of range")?;
                let follow_up_days = self.u32()?;
                let vector = self
                    .take(4 * dim)?
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect();
                let id = PointId::of(&patient, kind, index_time);
                Ok(Op::Upsert(Payload { id, patient, index_time, kind, follow_up_days }, vector))
            }
            OP_REMOVE_PATIENT => Ok(Op::RemovePatient(patient)),
            other => Err(format!("unknown op {other}")),
        }
    }
}

/// A snapshot as read: its header, its points, and its SHA-256 (what a saved graph
/// is tied to).
pub struct Snapshot {
    pub header: Header,
    pub ops: Vec<Op>,
    pub checksum: [u8; 32],
}

/// Reads the snapshot, if there is one.
pub fn read_snapshot(dir: &Path) -> Result<Option<Snapshot>, IndexError> {
    let path = dir.join(SNAPSHOT_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IndexError::Io { path, source: e }),
    };
    let corrupt = |message: String| IndexError::Corrupt { path: path.clone(), message };
    if bytes.len() < SNAPSHOT_MAGIC.len() + 4 + 32 || &bytes[..8] != SNAPSHOT_MAGIC {
        return Err(corrupt("not an RDT index snapshot".into()));
    }
    let (body, checksum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != checksum {
        return Err(corrupt("checksum mismatch".into()));
    }
    let mut cursor = Cursor { bytes: body, at: 8 };
    let header_len = cursor.u32().map_err(corrupt)? as usize;
    let header: Header =
        serde_json::from_slice(cursor.take(header_len).map_err(corrupt)?).map_err(|e| corrupt(e.to_string()))?;
    if header.format != FORMAT {
        return Err(corrupt(format!("format {} (this version reads {FORMAT})", header.format)));
    }
    let mut ops = Vec::with_capacity(header.count);
    for _ in 0..header.count {
        ops.push(cursor.op(header.dim).map_err(corrupt)?);
    }
    let checksum = checksum.try_into().expect("32 bytes");
    Ok(Some(Snapshot { header, ops, checksum }))
}

/// Writes a snapshot atomically (temporary file, fsync, rename, fsync of the
/// directory), then empties the log. Returns the snapshot's SHA-256.
pub fn write_snapshot<'a>(
    dir: &Path,
    header: &Header,
    points: impl Iterator<Item = (&'a Payload, &'a [f32])>,
) -> Result<[u8; 32], IndexError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(SNAPSHOT_FILE);
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    let checksum: [u8; 32] = {
        let mut hasher = Sha256::new();
        let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file());
        let mut write = |bytes: &[u8]| -> std::io::Result<()> {
            hasher.update(bytes);
            out.write_all(bytes)
        };
        let header_json = serde_json::to_vec(header).expect("the header serialises");
        write(SNAPSHOT_MAGIC).map_err(io(&path))?;
        write(&(header_json.len() as u32).to_le_bytes()).map_err(io(&path))?;
        write(&header_json).map_err(io(&path))?;
        let mut record = Vec::with_capacity(64 + 4 * header.dim);
        for (payload, vector) in points {
            record.clear();
            encode_upsert(&mut record, payload, vector);
            write(&record).map_err(io(&path))?;
        }
        let checksum = hasher.finalize();
        out.write_all(&checksum).map_err(io(&path))?;
        out.flush().map_err(io(&path))?;
        checksum.into()
    };
    tmp.as_file().sync_all().map_err(io(&path))?;
    tmp.persist(&path).map_err(|e| IndexError::Io { path: path.clone(), source: e.error })?;
    sync_dir(dir)?;
    // The snapshot now holds everything the log did.
    let log = dir.join(LOG_FILE);
    match fs::remove_file(&log) {
        Ok(()) => sync_dir(dir)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(IndexError::Io { path: log, source: e }),
    }
    Ok(checksum)
}

fn sync_dir(dir: &Path) -> Result<(), IndexError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Appends ops to the log and fsyncs it.
pub fn append_log(dir: &Path, ops: &[Op]) -> Result<(), IndexError> {
    let path = dir.join(LOG_FILE);
    let valid_len = log_valid_len(&path)?;
    let mut file =
        OpenOptions::new().create(true).read(true).write(true).truncate(false).open(&path).map_err(io(&path))?;
    // Drop a torn tail before appending after it.
    file.set_len(valid_len).map_err(io(&path))?;
    let mut out = Vec::new();
    if valid_len == 0 {
        out.extend_from_slice(LOG_MAGIC);
    }
    for op in ops {
        let payload = encode(op);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&Sha256::digest(&payload)[..8]);
    }
    use std::io::Seek;
    file.seek(std::io::SeekFrom::End(0)).map_err(io(&path))?;
    file.write_all(&out).map_err(io(&path))?;
    file.sync_data().map_err(io(&path))
}

/// The log's ops (a torn or damaged tail ends the log) and the length of its valid
/// prefix.
pub fn read_log(dir: &Path, dim: usize) -> Result<Vec<Op>, IndexError> {
    Ok(scan_log(&dir.join(LOG_FILE), dim)?.0)
}

fn log_valid_len(path: &Path) -> Result<u64, IndexError> {
    // The dimension does not matter for framing: frames are read, not decoded.
    Ok(scan_log(path, usize::MAX)?.1)
}

fn scan_log(path: &Path, dim: usize) -> Result<(Vec<Op>, u64), IndexError> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(f) => BufReader::new(f).read_to_end(&mut bytes).map_err(io(path))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], 0)),
        Err(e) => return Err(IndexError::Io { path: path.to_path_buf(), source: e }),
    };
    if bytes.len() < LOG_MAGIC.len() || &bytes[..8] != LOG_MAGIC {
        // Not even the magic made it to disk: an empty log.
        return Ok((vec![], 0));
    }
    let mut ops = Vec::new();
    let mut at = 8;
    while at + 4 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let end = at + 4 + len + 8;
        if end > bytes.len() {
            break;
        }
        let payload = &bytes[at + 4..at + 4 + len];
        if Sha256::digest(payload)[..8] != bytes[at + 4 + len..end] {
            break;
        }
        if dim != usize::MAX {
            let op = Cursor { bytes: payload, at: 0 }
                .op(dim)
                .map_err(|message| IndexError::Corrupt { path: path.to_path_buf(), message })?;
            ops.push(op);
        }
        at = end;
    }
    Ok((ops, at as u64))
}
