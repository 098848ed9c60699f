// chat.completions, threads and usage: calls on the project host with a token from the
// cache (or the one passed as `token`), `X-Session-Id` set as the Python SDK sets it.

import type { AuthContext, AuthModule } from "./auth.js";
import type { ResolvedConfig, Tier } from "./config.js";
import { BehestError } from "./errors.js";
import { joinUrl, jsonOf, send, throwIfError } from "./http.js";
import { ChatCompletionStream, type ChatCompletion, type ChatCompletionChunk, type ChatMessage } from "./stream.js";

/** What every call takes besides its own parameters. */
export interface CallOptions {
  /** Use this token instead of one from the cache. */
  token?: string;
  /** `X-Session-Id` (default: the session of the last token). */
  session_id?: string;
  /** Who the cached token is for (default: `defaultUserId`). */
  user_id?: string;
  tier?: Tier;
}

export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

interface Shared {
  cfg: () => ResolvedConfig;
  auth: AuthModule;
  ctx: AuthContext;
}

async function bearer(shared: Shared, call: CallOptions): Promise<string> {
  if (call.token) return call.token;
  const minted = await shared.auth.getToken({
    user_id: call.user_id,
    tier: call.tier,
    session_id: call.session_id,
  });
  return minted.token;
}

function baseHeaders(shared: Shared, token: string, sessionId: string | undefined, accept: string): Record<string, string> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: accept };
  const sid = sessionId ?? shared.auth.lastSessionId;
  if (sid) headers["X-Session-Id"] = sid;
  return headers;
}

async function jsonRequest(
  shared: Shared,
  method: string,
  path: string,
  call: CallOptions & { query?: Record<string, string | undefined>; body?: unknown },
  request: RequestOptions = {},
): Promise<unknown> {
  const token = await bearer(shared, call);
  let url = joinUrl(shared.cfg().baseUrl, path);
  if (call.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(call.query)) if (v !== undefined && v !== null) q.set(k, v);
    const qs = q.toString();
    if (qs) url += (url.includes("?") ? "&" : "?") + qs;
  }
  const headers = { ...baseHeaders(shared, token, call.session_id, "application/json"), ...request.headers };
  let body: string | undefined;
  if (call.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(call.body);
  }
  const response = await send(shared.ctx.fetch, url, { method, headers, body, signal: request.signal });
  await throwIfError(response, shared.ctx.clock());
  return jsonOf(response);
}

export interface ChatCompletionCreateParams extends CallOptions {
  messages: ChatMessage[];
  model?: string;
  stream?: boolean | null;
  /** `X-Thread-Id`: the conversation, for the gateway's memory. */
  thread_id?: string;
  [key: string]: unknown;
}

export class Completions {
  constructor(private readonly shared: Shared) {}

  create(
    params: ChatCompletionCreateParams & { stream: true },
    options?: RequestOptions,
  ): Promise<ChatCompletionStream<ChatCompletionChunk>>;
  create(params: ChatCompletionCreateParams & { stream?: false | null }, options?: RequestOptions): Promise<ChatCompletion>;
  create(params: ChatCompletionCreateParams, options?: RequestOptions): Promise<ChatCompletion | ChatCompletionStream>;
  async create(params: ChatCompletionCreateParams, options: RequestOptions = {}): Promise<ChatCompletion | ChatCompletionStream> {
    const { session_id, token, user_id, tier, thread_id, ...body } = params;
    const stream = body.stream === true;
    const jwt = await bearer(this.shared, { token, user_id, tier, session_id });
    const headers = {
      ...baseHeaders(this.shared, jwt, session_id, stream ? "text/event-stream" : "application/json"),
      "Content-Type": "application/json",
      ...(thread_id ? { "X-Thread-Id": thread_id } : {}),
      ...options.headers,
    };
    const controller = new AbortController();
    const outer = options.signal;
    if (outer) {
      if (outer.aborted) controller.abort(outer.reason);
      else outer.addEventListener("abort", () => controller.abort(outer.reason), { once: true });
    }
    const response = await send(this.shared.ctx.fetch, joinUrl(this.shared.cfg().baseUrl, "/v1/chat/completions"), {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    await throwIfError(response, this.shared.ctx.clock());
    if (stream) return new ChatCompletionStream(response, controller, this.shared.ctx.clock);
    return (await jsonOf(response)) as ChatCompletion;
  }
}

export class ChatModule {
  readonly completions: Completions;
  constructor(shared: Shared) {
    this.completions = new Completions(shared);
  }
}

export type Thread = Record<string, unknown>;
export type ThreadMessage = Record<string, unknown>;

export class ThreadsModule {
  constructor(private readonly shared: Shared) {}

  /** `GET /v1/threads`: the token's user's threads. */
  async list(call: CallOptions = {}, request?: RequestOptions): Promise<Thread[]> {
    return ((await jsonRequest(this.shared, "GET", "/v1/threads", call, request)) ?? []) as Thread[];
  }

  /** `GET /v1/threads/{id}`. */
  async get(threadId: string, call: CallOptions = {}, request?: RequestOptions): Promise<Thread> {
    return (await jsonRequest(this.shared, "GET", `/v1/threads/${encodeURIComponent(threadId)}`, call, request)) as Thread;
  }

  /** `DELETE /v1/threads/{id}`. */
  async delete(threadId: string, call: CallOptions = {}, request?: RequestOptions): Promise<void> {
    await jsonRequest(this.shared, "DELETE", `/v1/threads/${encodeURIComponent(threadId)}`, call, request);
  }

  /** `GET /v1/threads/{id}/messages`. */
  async messages(threadId: string, call: CallOptions = {}, request?: RequestOptions): Promise<ThreadMessage[]> {
    const path = `/v1/threads/${encodeURIComponent(threadId)}/messages`;
    return ((await jsonRequest(this.shared, "GET", path, call, request)) ?? []) as ThreadMessage[];
  }
}

export type Granularity = "hour" | "day" | "month";

export interface UsageQuery extends CallOptions {
  from?: Date | string | number;
  to?: Date | string | number;
  /** The Python SDK's spelling of `from` (a keyword there). */
  from_?: Date | string | number;
  /** Whose usage (an end user sees only their own). */
  user_id?: string;
  granularity?: Granularity;
}

function timestamp(value: Date | string | number | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

export class UsageModule {
  constructor(private readonly shared: Shared) {}

  /** `GET /v1/usage?from&to&user_id&granularity` (404: BehestError `not_supported`). */
  async get(query: UsageQuery = {}, request?: RequestOptions): Promise<Record<string, unknown>> {
    const { from, from_, to, user_id, granularity = "day", ...call } = query;
    try {
      return (await jsonRequest(
        this.shared,
        "GET",
        "/v1/usage",
        {
          ...call,
          user_id,
          query: { from: timestamp(from ?? from_), to: timestamp(to), user_id, granularity },
        },
        request,
      )) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof BehestError && err.status === 404) {
        throw new BehestError("Usage endpoint not available on this environment", {
          status: 404,
          code: "not_supported",
          traceId: err.traceId,
          raw: err.raw,
        });
      }
      throw err;
    }
  }
}

export type { Shared };
