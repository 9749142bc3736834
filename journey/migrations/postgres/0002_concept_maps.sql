-- An install's terminology: the ConceptMaps it imported and their mappings from a
-- hospital's codes to RDT's concepts. Applied when a journey is read, never to the
-- stored events (which keep their codes as written). Importing a map with the same
-- url again replaces it; a source code mapped by two maps is read as the later one.

CREATE TABLE concept_maps (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         TEXT NOT NULL UNIQUE,
    name        TEXT,
    version     TEXT,
    sha256      TEXT NOT NULL,
    file        TEXT NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL,
    imported_by TEXT NOT NULL
);

CREATE TABLE concept_mappings (
    map_id        BIGINT NOT NULL REFERENCES concept_maps (id) ON DELETE CASCADE,
    source_system TEXT NOT NULL,
    source_code   TEXT NOT NULL,
    display       TEXT,
    concept       TEXT NOT NULL,
    PRIMARY KEY (map_id, source_system, source_code)
);
