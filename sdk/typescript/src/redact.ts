// Secrets (API keys, private keys, tokens) never reach an error message or a log line:
// every message the SDK builds or passes on goes through `redact`, which removes the
// secrets this process configured and anything shaped like one.

const registered = new Set<string>();
const MAX_REGISTERED = 64;

/** Remembers a secret so that `redact` removes it wherever it appears. */
export function registerSecret(secret: string | undefined): void {
  if (!secret || secret.length < 8 || registered.has(secret)) return;
  if (registered.size >= MAX_REGISTERED) {
    const oldest = registered.values().next().value;
    if (oldest !== undefined) registered.delete(oldest);
  }
  registered.add(secret);
}

const PATTERNS: Array<[RegExp, string]> = [
  // PEM private keys (PKCS#8 or PKCS#1), whole or truncated, and their base64 form.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, "[redacted private key]"],
  [/LS0tLS1CRUdJTi[A-Za-z0-9+/=]*/g, "[redacted private key]"],
  [/behest_pk_\S*/g, "behest_pk_[redacted]"],
  [/behest_sk_live_[A-Za-z0-9_]*/g, "behest_sk_live_[redacted]"],
  [/behest_sess_[A-Za-z0-9_-]*/g, "behest_sess_[redacted]"],
  // JWTs (header.payload.signature, base64url).
  [/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, "[redacted token]"],
  [/(Bearer\s+)(?!\[)[^\s"',;]+/gi, "$1[redacted]"],
];

export function redact(text: string): string {
  let out = String(text);
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join("[redacted]");
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
