// @behest/client-ts: the Behest v1.5 server SDK (parity with behest-ai v1.5 for Python).
//
//   import { Behest } from "@behest/client-ts";
//   const behest = new Behest(); // BEHEST_KEY + BEHEST_BASE_URL from the environment
//   const { token, ttl, sessionId, expiresAt } = await behest.auth.mint({ user_id: "u_1", ttl: 900 });

export { Behest, type LegacyMintResult } from "./client.js";
export { AuthModule, type MintOptions, type MintResult, type Role } from "./auth.js";
export {
  ChatModule,
  Completions,
  ThreadsModule,
  UsageModule,
  type CallOptions,
  type ChatCompletionCreateParams,
  type Granularity,
  type RequestOptions,
  type Thread,
  type ThreadMessage,
  type UsageQuery,
} from "./modules.js";
export { ChatCompletionStream, type ChatCompletion, type ChatCompletionChunk, type ChatMessage } from "./stream.js";
export {
  BehestAuthError,
  BehestBadRequestError,
  BehestConfigError,
  BehestContentError,
  BehestError,
  BehestKillSwitchError,
  BehestQuotaError,
  BehestRateLimitError,
  BehestServerError,
  classifyHttpError,
  parseRetryAfter,
  type BehestErrorOptions,
} from "./errors.js";
export {
  DEFAULT_AUDIENCE,
  DEFAULT_BASE_URL,
  DEFAULT_ISSUER,
  DEFAULT_TTL,
  DEFAULT_USER_ID,
  detectMode,
  resolveConfig,
  _resetWarnings,
  type BehestOptions,
  type FetchLike,
  type Mode,
  type ResolvedConfig,
  type Tier,
} from "./config.js";
export { decodeToken, decodeTokenHeader } from "./jwt.js";
export { redact } from "./redact.js";
export { generateSessionId } from "./session.js";
export const VERSION = "1.5.0-beta.1";
