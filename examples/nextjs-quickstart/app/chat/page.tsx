// app/chat/page.tsx
import ChatClient from "./ChatClient";
export default function Page() {
  // Generate or look up a per-conversation threadId; use nanoid/uuid on first visit.
  return <ChatClient threadId={crypto.randomUUID()} />;
}
