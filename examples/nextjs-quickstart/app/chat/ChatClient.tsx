// app/chat/ChatClient.tsx
"use client";
import { useRef, useState } from "react";
import OpenAI from "openai";
import { getBehestToken } from "@/lib/behestToken";

const BASE_URL = `${process.env.NEXT_PUBLIC_BEHEST_BASE_URL}/v1`;

export default function ChatClient({ threadId }: { threadId: string }) {
  const [messages, setMessages] = useState<
    { role: "user" | "assistant"; content: string }[]
  >([]);
  const [input, setInput] = useState("");
  const abortRef = useRef<AbortController | null>(null);

  async function send() {
    abortRef.current = new AbortController();
    const next = [...messages, { role: "user" as const, content: input }];
    setMessages([...next, { role: "assistant", content: "" }]);
    setInput("");

    const { token, sessionId } = await getBehestToken();

    const openai = new OpenAI({
      apiKey: token,
      baseURL: BASE_URL,
      dangerouslyAllowBrowser: true, // safe: token is short-lived + per-user
      defaultHeaders: { "X-Session-Id": sessionId, "X-Thread-Id": threadId },
    });

    const stream = await openai.chat.completions.create(
      // No `model`: Behest uses the project's deployed model. The cast is the one change
      // from the docs' snippet: openai's types require `model`, so without it `next
      // build` fails to type-check (`next dev` does not check). Nothing changes on the wire.
      { messages: next, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming,
      { signal: abortRef.current.signal }
    );
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta?.content ?? "";
      setMessages((m) => {
        const copy = [...m];
        const last = copy[copy.length - 1];
        copy[copy.length - 1] = {
          role: "assistant",
          content: last.content + delta,
        };
        return copy;
      });
    }
  }

  return (
    <div>
      {messages.map((m, i) => (
        <p key={i}>
          <b>{m.role}:</b> {m.content}
        </p>
      ))}
      <input
        value={input}
        onChange={(e) => setInput(e.target.value)}
        onKeyDown={(e) => e.key === "Enter" && send()}
      />
      <button onClick={() => abortRef.current?.abort()}>Stop</button>
    </div>
  );
}
