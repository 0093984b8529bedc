-- Sign-ins to the care desk (desk/), beside the triage audit trail (care.audit_trail.record_sign_ins):
-- who tried to sign in, from where, when, and how it ended, and who signed out. The desk keeps each
-- attempt in its own state at once and its writer copies it here, so signing in never waits for a
-- load. No password, right or wrong, is kept. Appended, never updated or deleted.
CREATE TABLE desk_sign_ins (
    name          VARCHAR NOT NULL,      -- the name typed (a refused attempt's need be nobody's)
    client        VARCHAR NOT NULL,      -- the client's address
    attempted_at  TIMESTAMPTZ NOT NULL,  -- when
    outcome       VARCHAR NOT NULL,      -- signed_in, refused, rate_limited, signed_out
    PRIMARY KEY (name, client, attempted_at, outcome)
);
