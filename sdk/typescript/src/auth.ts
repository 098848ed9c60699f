// auth.mint(): a short-lived per-user JWT, over HTTP with an API key (`POST
// {baseUrl}/v1/auth/mint`) or signed locally with a tenant signing key (RS256, the
// claims the server mints, in its order). auth.getToken(): the same through a cache that
// reuses a token until shortly before it expires.

import type { FetchLike, ResolvedConfig, Tier } from "./config.js";
import { BehestBadRequestError, BehestServerError } from "./errors.js";
import { joinUrl, send, throwIfError, jsonOf } from "./http.js";
import { randomUUID, signRs256 } from "./jwt.js";

export type Role = "user" | "dashboard-service" | "admin";

export interface MintOptions {
  /** The end user (default: `defaultUserId`, `BEHEST_USER_ID`, then `default`). */
  user_id?: string;
  /** Your session id (default: a new UUID). */
  session_id?: string;
  /** Tier index (by sort order) or name (default: `BEHEST_TIER`). */
  tier?: Tier;
  /** Lifetime in seconds, 60-86400 (default: `BEHEST_TTL`, then 3600). */
  ttl?: number;
  /** Default `user`. */
  role?: Role | string;
  /** camelCase spellings, accepted too. */
  userId?: string;
  sessionId?: string;
}

export interface MintResult {
  /** The JWT: the browser's `apiKey` for the OpenAI SDK. */
  token: string;
  /** Its lifetime in seconds. */
  ttl: number;
  /** Send as `X-Session-Id`. */
  sessionId: string;
  /** Unix seconds. */
  expiresAt: number;
  /** The Python SDK's spellings (not enumerable: JSON carries the camelCase ones). */
  readonly session_id: string;
  readonly expires_at: number;
}

function mintResult(token: string, ttl: number, sessionId: string, expiresAt: number): MintResult {
  const result = { token, ttl, sessionId, expiresAt } as MintResult;
  Object.defineProperties(result, {
    session_id: { get: () => result.sessionId, enumerable: false },
    expires_at: { get: () => result.expiresAt, enumerable: false },
  });
  return result;
}

export interface AuthContext {
  fetch: FetchLike;
  clock: () => number;
  refreshMarginSeconds: number;
}

const MAX_CACHED = 1000;

interface CacheEntry {
  result?: MintResult;
  pending?: Promise<MintResult>;
}

export class AuthModule {
  /** The session id of the last token minted (sent as `X-Session-Id` by the other modules). */
  lastSessionId: string | undefined;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly config: () => ResolvedConfig,
    private readonly ctx: AuthContext,
  ) {}

  private get cfg(): ResolvedConfig {
    return this.config();
  }

  /** A new token, always (HTTP in API-key mode, local RS256 in sign mode). */
  async mint(options: MintOptions = {}): Promise<MintResult> {
    const userId = options.user_id ?? options.userId ?? this.cfg.defaultUserId;
    const role = options.role ?? "user";
    const ttl = options.ttl ?? this.cfg.ttl;
    const tier = options.tier ?? this.cfg.tier;
    const sessionId = options.session_id ?? options.sessionId ?? (await randomUUID());
    const result =
      this.cfg.mode === "apiKey"
        ? await this.mintHttp(userId, role, ttl, tier, sessionId)
        : await this.signLocal(userId, role, ttl, tier, sessionId);
    this.lastSessionId = result.sessionId;
    return result;
  }

  /**
   * A token for these options from the cache while it has more than the refresh margin
   * (default 60 s, at most half its lifetime) left, else a new one. Concurrent calls
   * share one mint.
   */
  async getToken(options: MintOptions = {}): Promise<MintResult> {
    const key = JSON.stringify([
      options.user_id ?? options.userId ?? this.cfg.defaultUserId,
      options.role ?? "user",
      options.tier ?? this.cfg.tier ?? null,
      options.session_id ?? options.sessionId ?? null,
      options.ttl ?? this.cfg.ttl,
    ]);
    const entry = this.cache.get(key);
    if (entry?.pending) return entry.pending;
    if (entry?.result && this.fresh(entry.result)) {
      this.lastSessionId = entry.result.sessionId;
      return entry.result;
    }
    const pending = this.mint(options);
    const next: CacheEntry = { pending };
    this.remember(key, next);
    try {
      next.result = await pending;
      return next.result;
    } catch (err) {
      this.cache.delete(key);
      throw err;
    } finally {
      next.pending = undefined;
    }
  }

  /** Forgets every cached token. */
  clearCache(): void {
    this.cache.clear();
  }

  private fresh(result: MintResult): boolean {
    const now = Math.floor(this.ctx.clock() / 1000);
    const margin = Math.min(this.ctx.refreshMarginSeconds, Math.floor(result.ttl / 2));
    return result.expiresAt - now > margin;
  }

  private remember(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    if (this.cache.size >= MAX_CACHED) {
      for (const [k, e] of this.cache) {
        if (!e.pending && (!e.result || !this.fresh(e.result))) this.cache.delete(k);
      }
      const oldest = this.cache.keys().next().value;
      if (this.cache.size >= MAX_CACHED && oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, entry);
  }

  private async mintHttp(
    userId: string,
    role: string,
    ttl: number,
    tier: Tier | undefined,
    sessionId: string,
  ): Promise<MintResult> {
    const body: Record<string, unknown> = { user_id: userId, role, ttl, session_id: sessionId };
    if (tier !== undefined) body.tier = tier;
    const response = await send(this.ctx.fetch, joinUrl(this.cfg.baseUrl, "/v1/auth/mint"), {
      method: "POST",
      headers: {
        Authorization: `Bearer ${this.cfg.key}`,
        "Content-Type": "application/json",
        Accept: "application/json",
      },
      body: JSON.stringify(body),
    });
    await throwIfError(response, this.ctx.clock());
    const data = ((await jsonOf(response)) ?? {}) as Record<string, unknown>;
    const token = (data.jwt ?? data.access_token) as string | undefined;
    if (typeof token !== "string" || !token) {
      throw new BehestServerError("Mint response missing jwt/access_token", {
        traceId: response.headers.get("x-trace-id") ?? undefined,
      });
    }
    const resolvedTtl = Number.isInteger(data.ttl) ? (data.ttl as number) : ttl;
    const expiresAt = Number.isInteger(data.expires_at)
      ? (data.expires_at as number)
      : Math.floor(this.ctx.clock() / 1000) + resolvedTtl;
    const sid = typeof data.session_id === "string" && data.session_id ? data.session_id : sessionId;
    return mintResult(token, resolvedTtl, sid, expiresAt);
  }

  private async signLocal(
    userId: string,
    role: string,
    ttl: number,
    tier: Tier | undefined,
    sessionId: string,
  ): Promise<MintResult> {
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86400) {
      throw new BehestBadRequestError(`ttl must be an integer between 60 and 86400 seconds, got ${ttl}`);
    }
    const now = Math.floor(this.ctx.clock() / 1000);
    const exp = now + ttl;
    // The order the server mints them in: tid, pid, uid, role, scp, iss, aud, iat, nbf,
    // exp, jti, sid, tier.
    const payload: Record<string, unknown> = {
      tid: this.cfg.tenantId,
      pid: this.cfg.projectId,
      uid: userId,
      role,
      scp: [],
      iss: this.cfg.issuer,
      aud: this.cfg.audience,
      iat: now,
      nbf: now,
      exp,
      jti: await randomUUID(),
      sid: sessionId,
    };
    if (tier !== undefined) payload.tier = tier;
    const token = await signRs256(this.cfg.key, this.cfg.kid as string, payload);
    return mintResult(token, ttl, sessionId, exp);
  }
}
