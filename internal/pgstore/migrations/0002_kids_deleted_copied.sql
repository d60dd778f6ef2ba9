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
-- (keyctl writes NULL there; hand-written SQL must too). keyctl never
-- wrote otherwise, so this clears only what was set by hand.
UPDATE keyctl.keys SET public_jwk = NULL WHERE state = 'deleted' AND public_jwk IS NOT NULL;
ALTER TABLE keyctl.keys ADD CONSTRAINT keys_deleted_no_public
    CHECK (state <> 'deleted' OR public_jwk IS NULL);

-- An event copied in from another keyring (keys copy) is marked: its
-- db_role is who copied it in, not who did what it records, and keyctl
-- says so when it reads it back.
ALTER TABLE keyctl.history ADD COLUMN copied boolean NOT NULL DEFAULT false;
