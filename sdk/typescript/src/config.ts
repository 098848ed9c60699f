// Configuration and mode detection, as behest-ai v1.5 resolves them: options first,
// then the environment, then defaults; the mode comes from the key's prefix.

import { BehestConfigError } from "./errors.js";
import { registerSecret } from "./redact.js";

export type Mode = "apiKey" | "sign";
export type Tier = number | string;
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export const DEFAULT_BASE_URL = "https://api.behest.ai";
export const DEFAULT_USER_ID = "default";
export const DEFAULT_TTL = 3600;
export const DEFAULT_ISSUER = "https://api.behest.ai";
export const DEFAULT_AUDIENCE = "behest";
/** A cached token is re-minted when it has less than this many seconds left. */
export const DEFAULT_REFRESH_MARGIN_SECONDS = 60;

export interface BehestOptions {
  /** `behest_sk_live_...` (mint over HTTP) or `behest_pk_<PEM>` (sign locally). Env: BEHEST_KEY. */
  key?: string;
  /** @deprecated use `key` (warned once). */
  apiKey?: string;
  /** The project host, e.g. `https://amber-fox-042.behest.app`. Env: BEHEST_BASE_URL. */
  baseUrl?: string;
  /** Sign mode: the signing key's id (`sk_...`). Env: BEHEST_KID. */
  kid?: string;
  /** Sign mode: the tenant's id. Env: BEHEST_TENANT_ID. */
  tenantId?: string;
  /** Sign mode: the project's id. Env: BEHEST_PROJECT_ID. */
  projectId?: string;
  /** The end user when a call names none. Env: BEHEST_USER_ID; default `default`. */
  defaultUserId?: string;
  /** Token lifetime in seconds. Env: BEHEST_TTL; default 3600. */
  ttl?: number;
  /** Tier: an index into the project's tiers by sort order, or a tier name. Env: BEHEST_TIER. */
  tier?: Tier;
  /** Sign mode: `iss`. Env: BEHEST_ISSUER; default `https://api.behest.ai`. */
  issuer?: string;
  /** Sign mode: `aud`. Env: BEHEST_AUDIENCE; default `behest`. */
  audience?: string;
  /** The fetch to use (default: the global one). */
  fetch?: FetchLike;
  /** Where deprecation warnings go (default: console.warn). */
  warn?: (message: string) => void;
  /** Milliseconds since the epoch (default Date.now); tests inject a clock. */
  clock?: () => number;
  /** Seconds before expiry at which the token cache re-mints (default 60). */
  refreshMarginSeconds?: number;
  /** The environment to read (default process.env where there is one). */
  env?: Record<string, string | undefined>;

  // The Python SDK's spellings, accepted too.
  api_key?: string;
  base_url?: string;
  tenant_id?: string;
  project_id?: string;
  default_user_id?: string;
}

export interface ResolvedConfig {
  readonly mode: Mode;
  /** The unwrapped key (API key, or the PEM). Not enumerable: never printed or serialised. */
  readonly key: string;
  readonly baseUrl: string;
  readonly defaultUserId: string;
  readonly ttl: number;
  readonly issuer: string;
  readonly audience: string;
  readonly tier?: Tier;
  readonly kid?: string;
  readonly tenantId?: string;
  readonly projectId?: string;
}

const warned = new Set<string>();

function defaultWarn(message: string): void {
  console.warn(`[behest] ${message}`);
}

/** Forgets which deprecations were already warned about (for tests). */
export function _resetWarnings(): void {
  warned.clear();
}

function warnOnce(warn: (m: string) => void, tag: string, message: string): void {
  if (warned.has(tag)) return;
  warned.add(tag);
  warn(message);
}

function base64Decode(text: string): string | undefined {
  try {
    if (typeof atob === "function") {
      const binary = atob(text.replace(/\s+/g, ""));
      const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      return new TextDecoder().decode(bytes);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** `.env` files often hold a PEM on one line with literal `\n`s: make them newlines. */
function unescapePem(pem: string): string {
  return !pem.includes("\n") && pem.includes("\\n") ? pem.replace(/\\n/g, "\n") : pem;
}

const KEY_FORMAT = "BEHEST_KEY must be an API key (behest_sk_live_*) or a base64-encoded RSA private key";

/** The mode a key selects, and the key unwrapped (the raw PEM in sign mode). */
export function detectMode(rawKey: string | undefined): { mode: Mode; key: string } {
  const key = (rawKey ?? "").trim();
  if (!key) throw new BehestConfigError(KEY_FORMAT, { code: "missing_env" });
  if (key.startsWith("behest_sk_live_")) return { mode: "apiKey", key };
  if (key.startsWith("behest_pk_")) return { mode: "sign", key: unescapePem(key.slice("behest_pk_".length)) };
  const decoded = base64Decode(key);
  if (decoded && (decoded.includes("BEGIN PRIVATE KEY") || decoded.includes("BEGIN RSA PRIVATE KEY"))) {
    return { mode: "sign", key: decoded };
  }
  throw new BehestConfigError(KEY_FORMAT);
}

function processEnv(): Record<string, string | undefined> {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env ?? {};
}

function intOf(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new BehestConfigError(`${name} must be an integer`, { code: "bad_env" });
  return n;
}

function tierOf(value: string | undefined): Tier | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  return /^\d+$/.test(value.trim()) ? Number(value.trim()) : value.trim();
}

export function isBrowser(): boolean {
  const g = globalThis as { window?: unknown; document?: unknown };
  return typeof g.window !== "undefined" && typeof g.document !== "undefined";
}

export function resolveConfig(options: BehestOptions = {}): ResolvedConfig {
  const env = options.env ?? processEnv();
  const warn = options.warn ?? defaultWarn;

  let resolvedKey = options.key;
  const legacyOption = options.apiKey ?? options.api_key;
  if (!resolvedKey && legacyOption) {
    warnOnce(warn, "opt:apiKey", "`apiKey` is deprecated; use `key` instead.");
    resolvedKey = legacyOption;
  }
  if (!resolvedKey) {
    if (env.BEHEST_KEY) {
      resolvedKey = env.BEHEST_KEY;
    } else if (env.BEHEST_API_KEY) {
      warnOnce(warn, "env:BEHEST_API_KEY", "`BEHEST_API_KEY` is deprecated; rename to `BEHEST_KEY`.");
      resolvedKey = env.BEHEST_API_KEY;
    }
  }
  if (!resolvedKey) {
    throw new BehestConfigError(
      "BEHEST_KEY is required but was not set (no BEHEST_KEY or legacy BEHEST_API_KEY in env, and no `key` option passed).",
      { code: "missing_env" },
    );
  }
  registerSecret(resolvedKey.trim());
  const { mode, key } = detectMode(resolvedKey);
  registerSecret(key);

  const ttl = options.ttl ?? intOf("BEHEST_TTL", env.BEHEST_TTL) ?? DEFAULT_TTL;
  const config: Record<string, unknown> = {
    mode,
    baseUrl: options.baseUrl ?? options.base_url ?? env.BEHEST_BASE_URL ?? DEFAULT_BASE_URL,
    defaultUserId: options.defaultUserId ?? options.default_user_id ?? env.BEHEST_USER_ID ?? DEFAULT_USER_ID,
    ttl,
    tier: options.tier ?? tierOf(env.BEHEST_TIER),
    issuer: options.issuer ?? env.BEHEST_ISSUER ?? DEFAULT_ISSUER,
    audience: options.audience ?? env.BEHEST_AUDIENCE ?? DEFAULT_AUDIENCE,
  };

  if (mode === "sign") {
    if (isBrowser()) {
      throw new BehestConfigError("Local signing keys must never be used in the browser. Use API-key mode.");
    }
    const kid = options.kid ?? env.BEHEST_KID;
    const tenantId = options.tenantId ?? options.tenant_id ?? env.BEHEST_TENANT_ID;
    const projectId = options.projectId ?? options.project_id ?? env.BEHEST_PROJECT_ID;
    const missing = (
      [
        ["BEHEST_KID", kid],
        ["BEHEST_TENANT_ID", tenantId],
        ["BEHEST_PROJECT_ID", projectId],
      ] as const
    )
      .filter(([, value]) => !value)
      .map(([name]) => name);
    if (missing.length) {
      throw new BehestConfigError(
        `Sign mode requires ${missing.join(", ")}. Provide them via env or constructor.`,
        { code: "missing_env" },
      );
    }
    Object.assign(config, { kid, tenantId, projectId });
  }

  // The key is there to use, never to show: not enumerable (JSON.stringify, spread and
  // console.log skip it), and an inspect hook that says so.
  Object.defineProperty(config, "key", { value: key, enumerable: false });
  Object.defineProperty(config, Symbol.for("nodejs.util.inspect.custom"), {
    value: () => ({ ...config, key: "[redacted]" }),
    enumerable: false,
  });
  return Object.freeze(config) as unknown as ResolvedConfig;
}
