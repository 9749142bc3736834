-- Imported ids are tied to their source (`rdt import --source NAME`). FHIR ids are
-- unique only within the system that assigned them, so an event is identified by
-- (source, resource_type, resource_id, part), a Medication by (source, resource_id),
-- and a patient records the source that holds it. Rows stored before sources existed
-- belong to the source `default`, the one `rdt import` uses when none is named, so a
-- re-import of the same files still replaces them. (A constant default is stored in
-- the catalogue: adding these columns rewrites no table.)

ALTER TABLE patients ADD COLUMN source TEXT NOT NULL DEFAULT 'default';

ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'default';
ALTER TABLE events DROP CONSTRAINT events_resource_type_resource_id_part_key;
ALTER TABLE events ADD CONSTRAINT events_source_resource_part_key UNIQUE (source, resource_type, resource_id, part);

ALTER TABLE medications ADD COLUMN source TEXT NOT NULL DEFAULT 'default';
ALTER TABLE medications DROP CONSTRAINT medications_pkey;
ALTER TABLE medications ADD PRIMARY KEY (source, resource_id);
