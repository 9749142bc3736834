-- The audit log (crate audit-log): entries in canonical JSON with their RFC 6962 leaf
-- hashes, and signed tree heads. Append-only at the database level:
-- - triggers refuse UPDATE, DELETE and TRUNCATE, even to the owner;
-- - an entry must follow the last one; a tree head must not shrink the log;
-- - no privilege beyond what the owner grants: give the application role only
--   SELECT, INSERT (audit_log::postgres_append_only_grants), so it cannot drop the
--   triggers either.

CREATE TABLE audit_entries (
    seq       BIGINT PRIMARY KEY CHECK (seq >= 0),
    kind      TEXT NOT NULL,
    entry     TEXT NOT NULL,
    leaf_hash BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32)
);

CREATE INDEX audit_entries_by_kind ON audit_entries (kind, seq);

CREATE TABLE audit_tree_heads (
    id         BIGINT PRIMARY KEY,
    size       BIGINT NOT NULL CHECK (size >= 0),
    time       TEXT NOT NULL,
    root       BYTEA NOT NULL CHECK (octet_length(root) = 32),
    frontier   BYTEA NOT NULL,
    public_key TEXT NOT NULL,
    signature  TEXT NOT NULL
);

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION audit_entries_check_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq <> (SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries) THEN
        RAISE EXCEPTION 'audit_entries is append-only: entry % must follow the last one', NEW.seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION audit_tree_heads_check_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.size < (SELECT COALESCE(MAX(size), 0) FROM audit_tree_heads)
       OR NEW.size > (SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries) THEN
        RAISE EXCEPTION 'audit_tree_heads: head size % must cover at least the last head and at most the log', NEW.size
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_entries_append_at_end BEFORE INSERT ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_check_append();

CREATE TRIGGER audit_tree_heads_no_change BEFORE UPDATE OR DELETE ON audit_tree_heads
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_tree_heads_no_truncate BEFORE TRUNCATE ON audit_tree_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_tree_heads_grow BEFORE INSERT ON audit_tree_heads
    FOR EACH ROW EXECUTE FUNCTION audit_tree_heads_check_append();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries, audit_tree_heads FROM PUBLIC;
