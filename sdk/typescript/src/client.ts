// The entry point: `new Behest(options?)`, the same surface as behest-ai v1.5.

import { AuthModule, type AuthContext, type MintOptions } from "./auth.js";
import { DEFAULT_REFRESH_MARGIN_SECONDS, resolveConfig, type BehestOptions, type Mode, type ResolvedConfig } from "./config.js";
import { BehestConfigError } from "./errors.js";
import { makeFetch } from "./http.js";
import { ChatModule, ThreadsModule, UsageModule } from "./modules.js";

let mintTokenWarned = false;

export interface LegacyMintResult {
  token: string;
  session_id: string;
  sessionId: string;
  ttl: number;
  expires_at: number;
  access_token: string;
  expires_in: number;
}

export class Behest {
  readonly auth: AuthModule;
  readonly chat: ChatModule;
  readonly threads: ThreadsModule;
  readonly usage: UsageModule;
  private resolved: ResolvedConfig | undefined;
  // The options hold the key: kept in a closure, never in a property that prints.
  private readonly resolve!: () => ResolvedConfig;
  private readonly warn: (message: string) => void;

  /**
   * Reads the options, then the environment. A malformed key, or a key of neither kind,
   * throws here. A key that is not set at all (or, in sign mode, a missing BEHEST_KID,
   * BEHEST_TENANT_ID or BEHEST_PROJECT_ID) is reported by the first call that needs it,
   * and looked up again until then: so a module-level `new Behest()` does not break a
   * build that runs without the app's secrets (`next build` evaluates route modules).
   */
  constructor(options: BehestOptions = {}) {
    Object.defineProperty(this, "resolve", { value: () => resolveConfig(options), enumerable: false });
    try {
      this.resolved = resolveConfig(options);
    } catch (err) {
      if (!(err instanceof BehestConfigError && err.code === "missing_env")) throw err;
    }
    this.warn = options.warn ?? ((m) => console.warn(`[behest] ${m}`));
    const ctx: AuthContext = {
      fetch: makeFetch(options.fetch),
      clock: options.clock ?? Date.now,
      refreshMarginSeconds: options.refreshMarginSeconds ?? DEFAULT_REFRESH_MARGIN_SECONDS,
    };
    const cfg = () => this.config;
    this.auth = new AuthModule(cfg, ctx);
    const shared = { cfg, auth: this.auth, ctx };
    this.chat = new ChatModule(shared);
    this.threads = new ThreadsModule(shared);
    this.usage = new UsageModule(shared);
  }

  /** The resolved configuration (its `key` is not enumerable, and never printed).
   * Throws BehestConfigError `missing_env` while the key is not configured. */
  get config(): ResolvedConfig {
    if (!this.resolved) this.resolved = this.resolve();
    return this.resolved;
  }

  /** `apiKey` (mint over HTTP) or `sign` (local RS256). */
  get mode(): Mode {
    return this.config.mode;
  }

  /** @deprecated v1.x alias of `auth.mint()`; returns the legacy and the new shape. */
  async mintToken(options: MintOptions = {}): Promise<LegacyMintResult> {
    if (!mintTokenWarned) {
      mintTokenWarned = true;
      this.warn("`mintToken()` is deprecated; use `auth.mint()` instead.");
    }
    const result = await this.auth.mint(options);
    return {
      token: result.token,
      session_id: result.sessionId,
      sessionId: result.sessionId,
      ttl: result.ttl,
      expires_at: result.expiresAt,
      access_token: result.token,
      expires_in: result.ttl,
    };
  }

  /** The Python SDK's spelling of `mintToken`. */
  mint_token(options: MintOptions = {}): Promise<LegacyMintResult> {
    return this.mintToken(options);
  }
}
