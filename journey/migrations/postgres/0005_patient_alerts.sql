-- Early alerts (twin_core::alerts), derived from a journey and the install's models,
-- written when the patient's twin catches up. An alert is identified by patient, rule
-- and the date of the data that raised it; its acknowledgement (who, when) survives
-- later recomputations, and an unacknowledged alert no longer raised is removed.
-- Times are RFC 3339 text and dates YYYY-MM-DD on both backends.
CREATE TABLE patient_alerts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    raised_on       TEXT NOT NULL,
    message         TEXT NOT NULL,
    computed_at     TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    UNIQUE (patient_id, kind, raised_on)
);
CREATE INDEX patient_alerts_patient ON patient_alerts (patient_id);
