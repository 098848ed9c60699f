-- When an API key last minted a token, for the dashboard's key list. Written at most
-- once a minute per key (see `touch_api_key`), so a busy key is not a write per mint.
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
