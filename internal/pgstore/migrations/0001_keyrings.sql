-- keyctl schema 1: keyrings, their keys, their history, and the public view
-- that serve replicas read. The database guards the lifecycle's invariants
-- itself, so an old keyctl or a hand-written UPDATE cannot break them.
CREATE SCHEMA IF NOT EXISTS keyctl;

CREATE TABLE keyctl.keyrings (
    name                  text PRIMARY KEY
                          CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    -- Bumped by every change keyctl makes; replicas poll it.
    version               bigint NOT NULL DEFAULT 1 CHECK (version > 0),
    -- Go durations in nanoseconds; 0 means keyctl's default.
    max_token_lifetime_ns bigint NOT NULL DEFAULT 0 CHECK (max_token_lifetime_ns >= 0),
    settings              jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- How private material is sealed: a passphrase or a master key wraps a
    -- data key (seal holds that wrapped data key as a compact JWE), or, only
    -- when asked for at creation, plaintext.
    seal_scheme           text NOT NULL CHECK (seal_scheme IN ('passphrase', 'master-key', 'plaintext')),
    seal                  text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CHECK ((seal_scheme = 'plaintext') = (seal IS NULL))
);

CREATE TABLE keyctl.keys (
    keyring        text NOT NULL REFERENCES keyctl.keyrings (name),
    kid            text NOT NULL CHECK (kid ~ '^[!-~]{1,200}$'),
    position       integer NOT NULL CHECK (position >= 0),
    alg            text NOT NULL CHECK (alg IN ('ES256', 'RS256', 'EdDSA', 'HS256')),
    state          text NOT NULL CHECK (state IN ('standby', 'in_use', 'previously_used', 'revoked', 'deleted')),
    legacy         boolean NOT NULL DEFAULT false CHECK (NOT legacy OR alg = 'HS256'),
    origin         text NOT NULL CHECK (origin IN ('created', 'imported', 'supabase', 'legacy')),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    rotated_out_at timestamptz,
    -- Per-key fields added after schema 1 (thumbprint, published time).
    extra          jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The public JWK, for every asymmetric key that still has material.
    public_jwk     jsonb,
    -- The private JWK sealed by keyctl (a compact JWE bound to the keyring
    -- and kid), or the JWK itself in a plaintext keyring; NULL once deleted.
    private_sealed text,
    PRIMARY KEY (keyring, kid),
    UNIQUE (keyring, position),
    -- A deleted key holds no private material, and only a deleted key.
    CHECK ((state = 'deleted') = (private_sealed IS NULL)),
    CHECK (state = 'deleted' OR alg = 'HS256' OR public_jwk IS NOT NULL),
    CHECK (alg <> 'HS256' OR public_jwk IS NULL)
);

-- At most one key in use, and one legacy secret, per keyring.
CREATE UNIQUE INDEX keys_one_in_use ON keyctl.keys (keyring) WHERE state = 'in_use';
CREATE UNIQUE INDEX keys_one_legacy ON keyctl.keys (keyring) WHERE legacy;

CREATE TABLE keyctl.history (
    id         bigserial PRIMARY KEY,
    keyring    text NOT NULL REFERENCES keyctl.keyrings (name),
    at         timestamptz NOT NULL,
    event      text NOT NULL,
    kid        text NOT NULL DEFAULT '',
    from_state text NOT NULL DEFAULT '',
    to_state   text NOT NULL DEFAULT '',
    actor      text NOT NULL,
    db_role    text NOT NULL DEFAULT current_user,
    note       text NOT NULL DEFAULT ''
);
CREATE INDEX history_keyring ON keyctl.history (keyring, id);

-- The history is append-only.
CREATE FUNCTION keyctl.history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'keyctl.history is append-only';
END
$$;
CREATE TRIGGER history_no_update BEFORE UPDATE OR DELETE ON keyctl.history
    FOR EACH ROW EXECUTE FUNCTION keyctl.history_append_only();
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON keyctl.history
    FOR EACH STATEMENT EXECUTE FUNCTION keyctl.history_append_only();

-- Every change to a keyring or its keys, keyctl's or anyone's, notifies
-- the replicas (one notification per keyring per transaction: PostgreSQL
-- folds identical payloads).
CREATE FUNCTION keyctl.notify_keyring() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'keyrings' THEN
        PERFORM pg_notify('keyctl_keyring', COALESCE(NEW.name, OLD.name));
    ELSE
        PERFORM pg_notify('keyctl_keyring', COALESCE(NEW.keyring, OLD.keyring));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER keyrings_notify AFTER INSERT OR UPDATE OR DELETE ON keyctl.keyrings
    FOR EACH ROW EXECUTE FUNCTION keyctl.notify_keyring();
CREATE TRIGGER keys_notify AFTER INSERT OR UPDATE OR DELETE ON keyctl.keys
    FOR EACH ROW EXECUTE FUNCTION keyctl.notify_keyring();

-- What a serve replica reads: the published public keys and the version.
-- A read-only role is granted SELECT on these views (and on
-- keyctl.schema_migrations) alone, never on the tables.
CREATE VIEW keyctl.keyring_versions AS
    SELECT name AS keyring, version FROM keyctl.keyrings;

CREATE VIEW keyctl.published_keys AS
    SELECT k.keyring, k.position, k.kid, k.alg, k.state, k.public_jwk
    FROM keyctl.keys k
    WHERE k.state IN ('standby', 'in_use', 'previously_used') AND k.public_jwk IS NOT NULL;
