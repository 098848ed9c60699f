import Link from "next/link";

export default function Home() {
  return (
    <main>
      <h1>Behest quickstart</h1>
      <p>
        <Link href="/chat">Open the chat</Link>
      </p>
    </main>
  );
}
