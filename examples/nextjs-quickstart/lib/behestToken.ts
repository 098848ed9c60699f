// lib/behestToken.ts
"use client";

type TokenBundle = {
  token: string;
  ttl: number;
  sessionId: string;
  expiresAt: number;
};

let cached: TokenBundle | null = null;

export async function getBehestToken(): Promise<TokenBundle> {
  const now = Math.floor(Date.now() / 1000);
  if (cached && cached.expiresAt - now > 60) return cached;

  const r = await fetch("/api/behest/token", { method: "POST" });
  if (!r.ok) throw new Error(`token fetch failed: ${r.status}`);
  cached = (await r.json()) as TokenBundle;
  return cached;
}
