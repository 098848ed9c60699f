// The CommonJS build, through the package's own `exports` (self-reference by name).
const { test } = require('node:test');
const assert = require('node:assert/strict');

test('require("@behest/client-ts") gives the same surface', async () => {
  const sdk = require('@behest/client-ts');
  for (const name of ['Behest', 'BehestError', 'BehestAuthError', 'BehestQuotaError', 'BehestRateLimitError', 'BehestContentError', 'BehestBadRequestError', 'BehestServerError', 'BehestConfigError', 'BehestKillSwitchError', 'generateSessionId', 'decodeToken']) {
    assert.equal(typeof sdk[name], 'function', name);
  }
  const { generateKeyPairSync } = require('node:crypto');
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  const behest = new sdk.Behest({ key: `behest_pk_${pem}`, kid: 'sk_cjs', tenantId: 't', projectId: 'p', env: {} });
  const minted = await behest.auth.mint({ user_id: 'cjs-user' });
  assert.equal(sdk.decodeToken(minted.token).uid, 'cjs-user');
  assert.ok(new sdk.BehestAuthError() instanceof sdk.BehestError);
});
