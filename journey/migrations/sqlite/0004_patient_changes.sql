-- The change feed: one row per patient per write that changed their record (events
-- written or replaced, the Patient resource updated), in the same transaction as the
-- write. What RDT derives from a journey (the twin and its index points) reads the
-- feed in order and deletes a patient's rows only after it caught up with them, so a
-- crash between the write and the update loses nothing: the rows are still here on
-- restart.
CREATE TABLE patient_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX patient_changes_patient ON patient_changes (patient_id, seq);
