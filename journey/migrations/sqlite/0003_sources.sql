-- Imported ids are tied to their source (`rdt import --source NAME`). FHIR ids are
-- unique only within the system that assigned them, so an event is identified by
-- (source, resource_type, resource_id, part), a Medication by (source, resource_id),
-- and a patient records the source that holds it. Rows stored before sources existed
-- belong to the source `default`, the one `rdt import` uses when none is named, so a
-- re-import of the same files still replaces them.
--
-- SQLite cannot change a table's UNIQUE or PRIMARY KEY constraint in place: `events`
-- and `medications` are rebuilt, keeping every row and every event's id (the order of
-- events at the same time).

ALTER TABLE patients ADD COLUMN source TEXT NOT NULL DEFAULT 'default';

CREATE TABLE events_by_source (
    id            INTEGER PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    time          TEXT NOT NULL,
    code_system   TEXT NOT NULL,
    code          TEXT NOT NULL,
    code_display  TEXT,
    value         REAL,
    unit          TEXT,
    text          TEXT,
    modality      TEXT NOT NULL,
    phase         TEXT NOT NULL,
    source        TEXT NOT NULL DEFAULT 'default',
    source_file   TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    part          TEXT NOT NULL,
    UNIQUE (source, resource_type, resource_id, part)
);

INSERT INTO events_by_source (id, patient_id, time, code_system, code, code_display, value, unit, text,
                              modality, phase, source, source_file, resource_type, resource_id, part)
SELECT id, patient_id, time, code_system, code, code_display, value, unit, text,
       modality, phase, 'default', source_file, resource_type, resource_id, part
FROM events;

DROP TABLE events;
ALTER TABLE events_by_source RENAME TO events;
CREATE INDEX events_by_patient_time ON events (patient_id, time);

CREATE TABLE medications_by_source (
    source       TEXT NOT NULL DEFAULT 'default',
    resource_id  TEXT NOT NULL,
    code_system  TEXT NOT NULL,
    code         TEXT NOT NULL,
    code_display TEXT,
    PRIMARY KEY (source, resource_id)
);

INSERT INTO medications_by_source (source, resource_id, code_system, code, code_display)
SELECT 'default', resource_id, code_system, code, code_display FROM medications;

DROP TABLE medications;
ALTER TABLE medications_by_source RENAME TO medications;
