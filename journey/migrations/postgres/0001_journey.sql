-- The journey store: patients, their events, and the Medication resources that
-- MedicationRequest/MedicationStatement may point to from another file.

CREATE TABLE patients (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT,
    birth_date  DATE,
    sex         TEXT,
    deceased_at TIMESTAMPTZ,
    source_file TEXT
);

CREATE TABLE events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    time          TIMESTAMPTZ NOT NULL,
    code_system   TEXT NOT NULL,
    code          TEXT NOT NULL,
    code_display  TEXT,
    value         DOUBLE PRECISION,
    unit          TEXT,
    text          TEXT,
    modality      TEXT NOT NULL,
    phase         TEXT NOT NULL,
    source_file   TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    part          TEXT NOT NULL,
    UNIQUE (resource_type, resource_id, part)
);

CREATE INDEX events_by_patient_time ON events (patient_id, time);

CREATE TABLE medications (
    resource_id  TEXT PRIMARY KEY NOT NULL,
    code_system  TEXT NOT NULL,
    code         TEXT NOT NULL,
    code_display TEXT
);
