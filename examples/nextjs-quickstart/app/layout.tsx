import type { ReactNode } from "react";

export const metadata = { title: "Behest chat (Next.js quickstart)" };

// Render per request, so app/chat/page.tsx's crypto.randomUUID() gives every visit its
// own thread instead of one id baked in at build time.
export const dynamic = "force-dynamic";

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
