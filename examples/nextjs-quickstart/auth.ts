// auth.ts — A STAND-IN for your auth provider, not an auth provider.
//
// The quickstart imports `auth` from "@/auth": NextAuth's helper, or Clerk's, Supabase's,
// Auth0's... This stand-in "signs in" everyone as one fixed demo user so the example
// runs with no identity provider at all. Replace this file with your real `auth()`
// before the app is reachable by anyone but you.

export type Session = { user: { id: string; tier?: number } };

/** The demo session: user `DEMO_USER_ID` (default "demo-user"); DEMO_USER_ID="" signs out. */
export async function auth(): Promise<Session | null> {
  const id = process.env.DEMO_USER_ID ?? "demo-user";
  return id ? { user: { id } } : null;
}
