-- Schema 2: the database's rules meet keyctl's own, and copied history is marked.

-- A kid is what keyctl accepts from documents it did not write
-- (jwk.CheckKIDSafe): 1 to 256 bytes, no control character. Schema 1
-- allowed 200 printable ASCII bytes only, so a keyring from an older
-- keyctl or a Supabase project with a longer or non-ASCII kid could not
-- be copied in. keyctl checks the rest (valid UTF-8, no C1 or
-- bidirectional controls) whenever it reads a key.
ALTER TABLE keyctl.keys DROP CONSTRAINT keys_kid_check;
ALTER TABLE keyctl.keys ADD CONSTRAINT keys_kid_check
    CHECK (octet_length(kid) BETWEEN 1 AND 256 AND kid !~ '[\x01-\x1f\x7f]');

-- A deleted key keeps nothing of its material, its public half included
-- (keyctl writes NULL there; hand-written SQL must too). NOT VALID: rows
-- a hand made before are left as they are (the public views never show a
-- deleted key, and their public key may be all that still identifies
-- them), and every row written from now on is checked.
ALTER TABLE keyctl.keys ADD CONSTRAINT keys_deleted_no_public
    CHECK (state <> 'deleted' OR public_jwk IS NULL) NOT VALID;

-- An event copied in from another keyring (keys copy) is marked: its
-- db_role is who copied it in, not who did what it records, and keyctl
-- says so when it reads it back.
ALTER TABLE keyctl.history ADD COLUMN copied boolean NOT NULL DEFAULT false;

-- db_role is the database's own record of who wrote a history row: what
-- an INSERT says there is replaced by the role that ran it.
CREATE FUNCTION keyctl.history_db_role() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.db_role := current_user;
    RETURN NEW;
END
$$;
CREATE TRIGGER history_db_role BEFORE INSERT ON keyctl.history
    FOR EACH ROW EXECUTE FUNCTION keyctl.history_db_role();
