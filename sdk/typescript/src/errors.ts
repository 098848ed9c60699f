// The error taxonomy, as behest-ai v1.5 (Python) mirrors it: one class per kind of
// failure, each carrying the HTTP status, the server's `error.code` and the trace id
// (`X-Trace-Id`). Messages never carry a secret: everything that becomes a message
// goes through `redact` first.

import { redact } from "./redact.js";

export interface BehestErrorOptions {
  status?: number;
  code?: string;
  traceId?: string;
  raw?: unknown;
  cause?: unknown;
}

/** Base class of every error the SDK throws. */
export class BehestError extends Error {
  /** HTTP status, when the error came from an HTTP answer (undefined otherwise). */
  readonly status: number | undefined;
  /** The server's `error.code` (or the SDK's own, e.g. `network_error`). */
  readonly code: string | undefined;
  /** The answer's `X-Trace-Id`, to quote when reporting a problem. */
  readonly traceId: string | undefined;
  /** The parsed error body (or text) the server sent. */
  readonly raw: unknown;

  constructor(message: string, options: BehestErrorOptions = {}) {
    super(redact(message), options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.status = options.status;
    this.code = options.code;
    this.traceId = options.traceId;
    this.raw = options.raw;
  }

  /** The Python SDK's spelling of `traceId`. */
  get trace_id(): string | undefined {
    return this.traceId;
  }
}

function withDefaults(options: BehestErrorOptions, status: number | undefined, code: string): BehestErrorOptions {
  return { ...options, status: options.status ?? status, code: options.code ?? code };
}

/** Bad or missing configuration (key format, missing env); never an HTTP answer. */
export class BehestConfigError extends BehestError {
  constructor(message: string, options: BehestErrorOptions = {}) {
    super(message, { ...options, code: options.code ?? "bad_key_format" });
  }
}

/** 401 (`invalid_token`, `token_expired`) or 403 (`forbidden`). */
export class BehestAuthError extends BehestError {
  constructor(message = "Authentication failed", options: BehestErrorOptions = {}) {
    super(message, withDefaults(options, 401, "invalid_token"));
  }
}

/** 402 `quota_exceeded`: the daily token budget or a spending budget is used up. */
export class BehestQuotaError extends BehestError {
  constructor(message = "Quota exceeded", options: BehestErrorOptions = {}) {
    super(message, withDefaults(options, 402, "quota_exceeded"));
  }
}

/** 429 `rate_limited`; `retryAfter` is the `Retry-After` header in seconds. */
export class BehestRateLimitError extends BehestError {
  readonly retryAfter: number | undefined;

  constructor(message = "Rate limited", options: BehestErrorOptions & { retryAfter?: number } = {}) {
    super(message, withDefaults(options, 429, "rate_limited"));
    this.retryAfter = options.retryAfter;
  }

  /** The Python SDK's spelling of `retryAfter`. */
  get retry_after(): number | undefined {
    return this.retryAfter;
  }
}

/** 451 `content_blocked` (the content guard) or `pii_blocked` (PII in BLOCK mode). */
export class BehestContentError extends BehestError {
  constructor(message = "Content blocked", options: BehestErrorOptions = {}) {
    super(message, withDefaults(options, 451, "content_blocked"));
  }
}

/** 400 or 422: a bad body or field (`validation_error`, or a seed code like `UNKNOWN_MODEL`). */
export class BehestBadRequestError extends BehestError {
  constructor(message = "Bad request", options: BehestErrorOptions = {}) {
    super(message, withDefaults(options, 400, "validation_error"));
  }
}

/** 5xx, or the network failed (`network_error`; status 500, as in the Python SDK). */
export class BehestServerError extends BehestError {
  constructor(message: string, options: BehestErrorOptions = {}) {
    super(message, withDefaults(options, 500, "server_error"));
  }
}

/** 503 `kill_switch`: a global, tenant or project kill switch is on. A server error too. */
export class BehestKillSwitchError extends BehestServerError {
  constructor(message = "Kill switch on", options: BehestErrorOptions = {}) {
    super(message, withDefaults(options, 503, "kill_switch"));
  }
}

/** The status each wire code answers with (crates/behest-core/src/error.rs), for error
 * events inside a 200 stream, which carry a code but no status of their own. */
const STATUS_OF_CODE: Record<string, number> = {
  validation_error: 400,
  invalid_request: 400,
  MISSING_MODEL: 400,
  UNKNOWN_MODEL: 400,
  invalid_token: 401,
  token_expired: 401,
  quota_exceeded: 402,
  forbidden: 403,
  not_found: 404,
  PROVIDER_NOT_CONFIGURED: 422,
  rate_limited: 429,
  content_blocked: 451,
  pii_blocked: 451,
  internal_error: 500,
  upstream_error: 502,
  kill_switch: 503,
  budget_unavailable: 503,
  not_ready: 503,
  server_shutting_down: 503,
  upstream_timeout: 504,
};

export function statusOfCode(code: string | undefined): number {
  return (code && STATUS_OF_CODE[code]) || 500;
}

type HeaderSource = Headers | Record<string, string | undefined> | undefined;

function header(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | undefined>;
  const wanted = name.toLowerCase();
  for (const key of Object.keys(record)) if (key.toLowerCase() === wanted) return record[key];
  return undefined;
}

/** `Retry-After` in whole seconds: delta-seconds, or an HTTP date from now. */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}

/** Maps an HTTP answer (status, headers, parsed body) to its typed error. */
export function classifyHttpError(
  status: number,
  options: { headers?: HeaderSource; body?: unknown; nowMs?: number } = {},
): BehestError {
  const { headers, body } = options;
  let code: string | undefined;
  let message = `HTTP ${status}`;
  if (body && typeof body === "object") {
    const err = (body as { error?: unknown }).error;
    if (err && typeof err === "object") {
      const e = err as { code?: unknown; message?: unknown };
      if (typeof e.code === "string" && e.code) code = e.code;
      if (typeof e.message === "string" && e.message) message = e.message;
    } else if (typeof err === "string" && err) {
      message = err;
    }
  }
  const base: BehestErrorOptions = { status, code, traceId: header(headers, "x-trace-id"), raw: body };

  if (status === 401 || status === 403) {
    return new BehestAuthError(message, { ...base, code: code ?? (status === 403 ? "forbidden" : "invalid_token") });
  }
  if (status === 402) return new BehestQuotaError(message, base);
  if (status === 429) {
    return new BehestRateLimitError(message, {
      ...base,
      retryAfter: parseRetryAfter(header(headers, "retry-after"), options.nowMs),
    });
  }
  if (status === 451) return new BehestContentError(message, base);
  if (status === 503 && code === "kill_switch") return new BehestKillSwitchError(message, base);
  if (status >= 500) return new BehestServerError(message, base);
  if (status === 400 || status === 422) return new BehestBadRequestError(message, base);
  return new BehestError(message, base);
}
