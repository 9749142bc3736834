-- The audit log (crate audit-log): entries in canonical JSON with their RFC 6962 leaf
-- hashes, and signed tree heads. Append-only: triggers refuse UPDATE and DELETE, an
-- entry anywhere but right after the last one, and a tree head that shrinks the log
-- or claims more entries than there are. (Someone with the file can drop triggers;
-- `rdt audit verify` is what catches that.)

CREATE TABLE audit_entries (
    seq       INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 0),
    kind      TEXT NOT NULL,
    entry     TEXT NOT NULL,
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
);

CREATE INDEX audit_entries_by_kind ON audit_entries (kind, seq);

CREATE TABLE audit_tree_heads (
    id         INTEGER PRIMARY KEY NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    time       TEXT NOT NULL,
    root       BLOB NOT NULL CHECK (length(root) = 32),
    frontier   BLOB NOT NULL,
    public_key TEXT NOT NULL,
    signature  TEXT NOT NULL
);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused');
END;

CREATE TRIGGER audit_entries_append_at_end BEFORE INSERT ON audit_entries
WHEN NEW.seq <> (SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries)
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: an entry must follow the last one');
END;

CREATE TRIGGER audit_tree_heads_no_update BEFORE UPDATE ON audit_tree_heads
BEGIN
    SELECT RAISE(ABORT, 'audit_tree_heads is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_tree_heads_no_delete BEFORE DELETE ON audit_tree_heads
BEGIN
    SELECT RAISE(ABORT, 'audit_tree_heads is append-only: DELETE refused');
END;

CREATE TRIGGER audit_tree_heads_grow BEFORE INSERT ON audit_tree_heads
WHEN NEW.size < (SELECT COALESCE(MAX(size), 0) FROM audit_tree_heads)
  OR NEW.size > (SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries)
BEGIN
    SELECT RAISE(ABORT, 'audit_tree_heads: a head must cover at least the last head and at most the log');
END;
