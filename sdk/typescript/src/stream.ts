// A streamed chat completion: the SSE body (`data: {chunk}\n\n` ... `data: [DONE]\n\n`)
// as an async iterable of parsed chunks. It stops at `[DONE]`; an error event
// (`data: {"error": {...}}`) raises the typed error its code maps to.

import { BehestError, BehestServerError, classifyHttpError, statusOfCode } from "./errors.js";

/** One SSE event's data, from a body of bytes. Lines end in LF, CRLF or CR. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  let sawData = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if ((err as { name?: string })?.name === "AbortError") throw err;
        throw new BehestServerError("The stream was interrupted before it ended", {
          code: "stream_interrupted",
          cause: err,
        });
      }
      buffer += chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        if (!match) break;
        // A CR at the very end may be the first half of a CRLF: wait for more.
        if (match[0] === "\r" && match.index === buffer.length - 1 && !chunk.done) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          if (sawData) yield data.join("\n");
          data = [];
          sawData = false;
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
          sawData = true;
        }
        // Other fields (event:, id:, retry:) and comments (":") carry nothing we use.
      }
      if (chunk.done) {
        if (buffer.startsWith("data:")) {
          data.push(buffer.slice(5).replace(/^ /, ""));
          sawData = true;
        }
        if (sawData) yield data.join("\n");
        return;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

export class ChatCompletionStream<Chunk = ChatCompletionChunk> implements AsyncIterable<Chunk> {
  private used = false;

  constructor(
    /** The HTTP answer (status 200; its headers carry X-Trace-Id and Server-Timing). */
    readonly response: Response,
    /** Aborting it ends the stream (the gateway sees the client go). */
    readonly controller: AbortController,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Ends the stream now. */
  abort(): void {
    this.controller.abort();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Chunk> {
    if (this.used) throw new BehestError("A stream can be iterated only once", { code: "stream_consumed" });
    this.used = true;
    const body = this.response.body;
    if (!body) return;
    const traceId = this.response.headers.get("x-trace-id") ?? undefined;
    for await (const data of sseData(body)) {
      if (data === "[DONE]") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch (err) {
        throw new BehestError(`Failed to parse streaming chunk: ${(err as Error).message}`, {
          code: "stream_parse_error",
          traceId,
          raw: data,
        });
      }
      const error = (parsed as { error?: unknown } | null)?.error;
      if (error && typeof error === "object") {
        const code = (error as { code?: unknown }).code;
        throw classifyHttpError(statusOfCode(typeof code === "string" ? code : undefined), {
          headers: this.response.headers,
          body: parsed,
          nowMs: this.nowMs(),
        });
      }
      yield parsed as Chunk;
    }
  }
}

// The OpenAI wire types, as loosely as a gateway client needs them.

export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool" | "developer" | string;
  content: string | null | Array<Record<string, unknown>>;
  [key: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: string; content?: string | null; tool_calls?: unknown[]; [key: string]: unknown };
    finish_reason: string | null;
    [key: string]: unknown;
  }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  [key: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: ChatMessage;
    finish_reason: string | null;
    [key: string]: unknown;
  }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  [key: string]: unknown;
}
