// HTTP for the SDK: the configured (or global) fetch, errors mapped to their typed
// classes, and RFC 6761 `*.localhost` names sent to the loopback address on Node, whose
// resolver (getaddrinfo) does not know them — so `http://amber-fox-042.localhost:8080`,
// the project host of a local `behest serve`, works from a server as it does in a
// browser.

import type { FetchLike } from "./config.js";
import { BehestError, BehestServerError, classifyHttpError } from "./errors.js";
import { redact } from "./redact.js";

function onNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === "string";
}

function isLocalhostName(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, "");
  return h.endsWith(".localhost");
}

/** A fetch over node:http to 127.0.0.1, for a `*.localhost` URL (Host header kept). */
async function loopbackFetch(url: URL, init: RequestInit = {}): Promise<Response> {
  const http = await import(/* webpackIgnore: true */ "node:http");
  const https = await import(/* webpackIgnore: true */ "node:https");
  const stream = await import(/* webpackIgnore: true */ "node:stream");
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => {
    headers[name] = value;
  });
  headers.host = url.host;
  const body = typeof init.body === "string" ? init.body : undefined;
  if (body !== undefined) headers["content-length"] = String(new TextEncoder().encode(body).length);
  const signal = init.signal ?? undefined;
  if (signal?.aborted) throw signal.reason ?? new DOMException("This operation was aborted", "AbortError");
  const client = url.protocol === "https:" ? https : http;
  return new Promise<Response>((resolve, reject) => {
    const req = client.request(
      {
        protocol: url.protocol,
        hostname: "127.0.0.1",
        port: url.port || (url.protocol === "https:" ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: init.method ?? "GET",
        headers,
        servername: url.hostname,
      },
      (res) => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
          else if (value !== undefined) responseHeaders.set(name, value);
        }
        const status = res.statusCode ?? 500;
        const noBody = status === 204 || status === 304 || (init.method ?? "GET") === "HEAD";
        if (noBody) res.resume();
        const webBody = noBody ? null : (stream.Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
        resolve(new Response(webBody, { status, statusText: res.statusMessage, headers: responseHeaders }));
      },
    );
    const onAbort = () => req.destroy(signal?.reason ?? new DOMException("This operation was aborted", "AbortError"));
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => {
      signal?.removeEventListener("abort", onAbort);
      reject(err);
    });
    req.on("close", () => signal?.removeEventListener("abort", onAbort));
    req.end(body);
  });
}

/** The fetch the SDK uses: the caller's if given, else the global one (with `*.localhost`
 * sent to loopback on Node). */
export function makeFetch(custom: FetchLike | undefined): FetchLike {
  if (custom) return custom;
  return (input, init) => {
    const url = new URL(input);
    if (onNode() && isLocalhostName(url.hostname)) return loopbackFetch(url, init);
    return fetch(input, init);
  };
}

export function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
}

function isAbort(err: unknown): boolean {
  return (
    !!err &&
    typeof err === "object" &&
    ((err as { name?: string }).name === "AbortError" || (err as { name?: string }).name === "TimeoutError")
  );
}

/** Sends one request; a network failure is a BehestServerError `network_error` (an abort
 * is passed on as it is). */
export async function send(fetchFn: FetchLike, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetchFn(url, init);
  } catch (err) {
    if (isAbort(err)) throw err;
    const detail = err instanceof Error ? `${err.message}${causeOf(err)}` : String(err);
    throw new BehestServerError(`Network error: ${redact(detail)}`, { code: "network_error", cause: err });
  }
}

function causeOf(err: Error): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (!cause) return "";
  return ` (${cause.code ?? cause.message ?? String(cause)})`;
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => "");
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Throws the typed error for an answer of 400 or more. */
export async function throwIfError(response: Response, nowMs: number): Promise<void> {
  if (response.status < 400) return;
  const body = await bodyOf(response);
  throw classifyHttpError(response.status, { headers: response.headers, body, nowMs });
}

/** The JSON of a successful answer (undefined for 204 or an empty body). */
export async function jsonOf(response: Response): Promise<unknown> {
  if (response.status === 204) return undefined;
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BehestError("The server's answer was not JSON", {
      status: response.status,
      code: "bad_response",
      traceId: response.headers.get("x-trace-id") ?? undefined,
    });
  }
}
