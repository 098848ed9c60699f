// app/api/behest/token/route.ts
import { NextResponse } from "next/server";
import { Behest } from "@behest/client-ts";
import { auth } from "@/auth"; // your NextAuth/Clerk/etc. helper

const behest = new Behest(); // reads BEHEST_KEY + BEHEST_BASE_URL from env

export async function POST() {
  const session = await auth();
  if (!session?.user?.id)
    return new NextResponse("Unauthorized", { status: 401 });

  try {
    const { token, ttl, sessionId, expiresAt } = await behest.auth.mint({
      user_id: session.user.id,
      tier: session.user.tier ?? 2, // from your own billing state
      ttl: 900,
    });
    return NextResponse.json({ token, ttl, sessionId, expiresAt });
  } catch (err) {
    return NextResponse.json({ error: String(err) }, { status: 500 });
  }
}
