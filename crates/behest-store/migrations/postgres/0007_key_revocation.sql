-- A rotated API key is revoked for minting but its already-minted tokens stay valid
-- until they expire; a revoked one's tokens stop at once. `replaced_by` tells them
-- apart: set by a rotation, NULL for a revocation (and a project's suspension).
ALTER TABLE api_keys ADD COLUMN replaced_by UUID;
CREATE INDEX api_keys_revoked ON api_keys (revoked_at);
