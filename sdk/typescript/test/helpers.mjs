// Shared test helpers: a local node:http server, RSA keys, and the server's token rules.
import { createServer } from 'node:http';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';

/** Starts a node:http server on 127.0.0.1:0; `handler(req, res, body)` gets the body read. */
export async function startServer(handler) {
  const requests = [];
  const server = createServer((req, res) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      const record = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(record);
      Promise.resolve(handler(req, res, body, record)).catch((err) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

export function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

let cachedKey;
/** One 2048-bit RSA key per test process (PKCS#8 and PKCS#1 PEMs, and the public key). */
export function rsaKey() {
  if (!cachedKey) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    cachedKey = {
      pkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      pkcs1: privateKey.export({ type: 'pkcs1', format: 'pem' }),
      publicPem: publicKey.export({ type: 'spki', format: 'pem' }),
    };
  }
  return cachedKey;
}

const b64urlJson = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/**
 * Verifies a token the way the gateway does (crates/behest-gateway/src/verify.rs): RS256
 * only, a `kid`, the signature against the tenant's public key, `aud` = behest, an
 * accepted `iss`, `exp` in the future and `nbf`/`iat` not ahead of now (30 s leeway), and
 * the claims a token must carry. Returns {header, claims} or throws.
 */
export function verifyLikeTheServer(token, publicPem, { nowSec = Math.floor(Date.now() / 1000), issuers = ['behest', 'https://api.behest.ai'] } = {}) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a JWT');
  const header = b64urlJson(parts[0]);
  const claims = b64urlJson(parts[1]);
  if (header.alg !== 'RS256') throw new Error(`alg ${header.alg}`);
  if (typeof header.kid !== 'string' || !header.kid) throw new Error('no kid');
  const ok = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), createPublicKey(publicPem), Buffer.from(parts[2], 'base64url'));
  if (!ok) throw new Error('bad signature');
  for (const claim of ['tid', 'pid', 'uid', 'iss', 'aud', 'iat', 'nbf', 'exp']) {
    // tid and pid are UUIDs; the rest as the server reads them.
    if (claims[claim] === undefined) throw new Error(`missing ${claim}`);
  }
  if (claims.aud !== 'behest') throw new Error(`aud ${claims.aud}`);
  if (!issuers.includes(claims.iss)) throw new Error(`iss ${claims.iss}`);
  const skew = 30; // LEEWAY_SECS
  if (claims.exp <= nowSec - skew) throw new Error('expired');
  if (claims.nbf > nowSec + skew) throw new Error('not yet valid');
  if (claims.iat > nowSec + skew) throw new Error('issued in the future');
  return { header, claims, rawHeader: Buffer.from(parts[0], 'base64url').toString('utf8'), rawClaims: Buffer.from(parts[1], 'base64url').toString('utf8') };
}

/** An SSE body writer: sends `data: ...\n\n` events with an optional delay. */
export function sseHead(res, headers = {}) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
  res.flushHeaders?.();
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function chunk(content, extra = {}) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'test-model',
    choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: null }],
    ...extra,
  };
}
