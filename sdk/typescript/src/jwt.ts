// RS256 JWTs signed locally with a tenant signing key, with WebCrypto (Node 18+, edge
// runtimes, Deno, Bun); a PKCS#1 key ("BEGIN RSA PRIVATE KEY") is converted with
// node:crypto where there is one.

import { BehestConfigError } from "./errors.js";

type Subtle = SubtleCrypto;

interface CryptoLike {
  subtle: Subtle;
  randomUUID?: () => string;
  getRandomValues<T extends ArrayBufferView | null>(array: T): T;
}

async function webCrypto(): Promise<CryptoLike> {
  const g = (globalThis as { crypto?: CryptoLike }).crypto;
  if (g?.subtle) return g;
  // Node 18 without the global: node:crypto has the same object.
  const nodeCrypto = (await import(/* webpackIgnore: true */ "node:crypto")) as unknown as { webcrypto: CryptoLike };
  return nodeCrypto.webcrypto;
}

/** A random UUID (v4). */
export async function randomUUID(): Promise<string> {
  const c = await webCrypto();
  if (typeof c.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function base64urlJson(value: unknown): string {
  return base64url(encoder.encode(JSON.stringify(value)));
}

function pemBody(pem: string, label: string): Uint8Array<ArrayBuffer> | undefined {
  const match = pem.match(new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`));
  if (!match) return undefined;
  const binary = atob(match[1].replace(/\s+/g, ""));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function pkcs8Der(pem: string): Promise<Uint8Array<ArrayBuffer>> {
  const pkcs8 = pemBody(pem, "PRIVATE KEY");
  if (pkcs8) return pkcs8;
  if (pemBody(pem, "RSA PRIVATE KEY")) {
    try {
      const nodeCrypto = await import(/* webpackIgnore: true */ "node:crypto");
      const der = nodeCrypto.createPrivateKey(pem).export({ type: "pkcs8", format: "der" });
      return new Uint8Array(der);
    } catch {
      throw new BehestConfigError(
        "Invalid RSA private key: a PKCS#1 key (BEGIN RSA PRIVATE KEY) needs node:crypto; use PKCS#8 (BEGIN PRIVATE KEY)",
        { code: "invalid_signing_key" },
      );
    }
  }
  throw new BehestConfigError("Invalid RSA private key (expected PEM: BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)", {
    code: "invalid_signing_key",
  });
}

// Parsed keys, by PEM, so a PEM is parsed once per process (like the Python SDK's cache).
const keyCache = new Map<string, Promise<CryptoKey>>();

export function importSigningKey(pem: string): Promise<CryptoKey> {
  let key = keyCache.get(pem);
  if (!key) {
    key = (async () => {
      const der = await pkcs8Der(pem);
      const c = await webCrypto();
      try {
        return await c.subtle.importKey(
          "pkcs8",
          der,
          { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
          false,
          ["sign"],
        );
      } catch {
        throw new BehestConfigError("Invalid RSA private key (the PEM does not hold an RSA key)", {
          code: "invalid_signing_key",
        });
      }
    })();
    keyCache.set(pem, key);
    key.catch(() => keyCache.delete(pem));
  }
  return key;
}

/** Signs `payload` (claims in insertion order) with RS256; header `{alg, kid, typ}`. */
export async function signRs256(pem: string, kid: string, payload: Record<string, unknown>): Promise<string> {
  const key = await importSigningKey(pem);
  const signingInput = `${base64urlJson({ alg: "RS256", kid, typ: "JWT" })}.${base64urlJson(payload)}`;
  const c = await webCrypto();
  const signature = await c.subtle.sign("RSASSA-PKCS1-v1_5", key, encoder.encode(signingInput));
  return `${signingInput}.${base64url(new Uint8Array(signature))}`;
}

function base64urlDecode(part: string): string {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** A JWT's payload, decoded without verifying the signature. */
export function decodeToken(token: string): Record<string, unknown> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("decodeToken: expected a 3-part JWT (header.payload.signature)");
  return JSON.parse(base64urlDecode(parts[1])) as Record<string, unknown>;
}

/** A JWT's header, decoded without verifying the signature. */
export function decodeTokenHeader(token: string): Record<string, unknown> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("decodeTokenHeader: expected a 3-part JWT");
  return JSON.parse(base64urlDecode(parts[0])) as Record<string, unknown>;
}
