"""Memory, threads and usage through the published SDKs, against a running Behest
(started by `crates/behest/tests/memory_usage.rs` with a fake OpenAI provider, whose
recorded requests show what the provider received). The chat goes through the stock
`openai` SDK with an `X-Thread-Id` header, as the Next.js quickstart sends it; threads
and usage through `behest-ai`'s modules."""

import os
import time
import uuid

import httpx
import openai
import pytest
from behest import Behest, BehestAuthError, BehestError

BASE = os.environ["BEHEST_TEST_BASE"]
SLUG = os.environ["BEHEST_TEST_SLUG"]
KEY = os.environ["BEHEST_TEST_KEY"]
ADMIN_KEY = os.environ["BEHEST_TEST_ADMIN_KEY"]
FAKE = os.environ["BEHEST_TEST_FAKE"]
PROJECT_ID = os.environ["BEHEST_TEST_PROJECT_ID"]
SESSION = os.environ["BEHEST_TEST_SESSION"]
PROJECT_BASE = f"{BASE}/p/{SLUG}"

# What the fake provider reports for every answer.
PROMPT_TOKENS, COMPLETION_TOKENS = 11, 7


def fake_requests():
    return httpx.get(f"{FAKE}/_fake/requests").json()


def chat_client(user_id: str, thread_id: str, session_id: str):
    minted = Behest(key=KEY, base_url=PROJECT_BASE).auth.mint(user_id=user_id, session_id=session_id)
    return openai.OpenAI(
        api_key=minted.token,
        base_url=f"{PROJECT_BASE}/v1",
        max_retries=0,
        default_headers={"X-Thread-Id": thread_id, "X-Session-Id": session_id},
    )


def test_a_thread_remembers_its_turns_and_belongs_to_its_user():
    user, thread, session = f"mem-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    client = chat_client(user, thread, session)
    answers = []
    for turn in ["My name is Ada.", "I live in Lisbon.", "Where do I live?"]:
        done = client.chat.completions.create(model="ignored", messages=[{"role": "user", "content": turn}])
        answers.append(done.choices[0].message.content)
    # A streamed turn is remembered too.
    stream = client.chat.completions.create(
        model="ignored", messages=[{"role": "user", "content": "And streamed?"}], stream=True
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert streamed

    # The provider got the thread's earlier turns before the new one, in order.
    last = fake_requests()[-1]["body"]["messages"]
    contents = [(m["role"], m["content"]) for m in last]
    assert contents[-1] == ("user", "And streamed?")
    assert ("user", "My name is Ada.") in contents
    assert contents.index(("user", "My name is Ada.")) < contents.index(("user", "Where do I live?"))
    assert ("assistant", answers[0]) in contents

    behest = Behest(key=KEY, base_url=PROJECT_BASE)
    mine = behest.auth.mint(user_id=user).token
    listed = behest.threads.list(token=mine)
    assert [t["id"] for t in listed] == [thread]
    assert listed[0]["message_count"] == 8
    got = behest.threads.get(thread, token=mine)
    assert got["id"] == thread and got["message_count"] == 8 and got["created_at"] <= got["updated_at"]
    messages = behest.threads.messages(thread, token=mine)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 4
    assert messages[0]["content"] == "My name is Ada." and messages[-1]["content"] == streamed
    assert set(messages[0]) >= {"id", "role", "content", "created_at"}
    # Paged: the two before the last two, oldest first.
    older = httpx.get(
        f"{PROJECT_BASE}/v1/threads/{thread}/messages",
        params={"limit": 2, "before": messages[-2]["id"]},
        headers={"Authorization": f"Bearer {mine}"},
    ).json()
    assert [m["id"] for m in older] == [messages[-4]["id"], messages[-3]["id"]]

    # Another user's token: the same thread id is unknown to it.
    theirs = behest.auth.mint(user_id=f"{user}-other").token
    with pytest.raises(BehestError) as err:
        behest.threads.get(thread, token=theirs)
    assert err.value.status == 404
    assert behest.threads.list(token=theirs) == []

    behest.threads.delete(thread, token=mine)
    with pytest.raises(BehestError) as err:
        behest.threads.messages(thread, token=mine)
    assert err.value.status == 404


def eventually(check, seconds=5.0):
    deadline = time.time() + seconds
    while True:
        try:
            return check()
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def test_usage_matches_what_the_provider_reported_per_user_and_session():
    user, session = f"usage-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    client = chat_client(user, f"t-{uuid.uuid4().hex[:8]}", session)
    for i in range(3):
        client.chat.completions.create(model="ignored", messages=[{"role": "user", "content": f"q{i}"}])
    stream = client.chat.completions.create(
        model="ignored", messages=[{"role": "user", "content": "s"}], stream=True
    )
    for _ in stream:
        pass

    behest = Behest(key=KEY, base_url=PROJECT_BASE)
    own = behest.auth.mint(user_id=user).token

    def own_usage():
        report = behest.usage.get(token=own, granularity="day")
        assert report["totals"]["requests"] == 4, report
        return report

    report = eventually(own_usage)
    assert report["granularity"] == "day"
    assert report["totals"]["prompt_tokens"] == 4 * PROMPT_TOKENS
    assert report["totals"]["completion_tokens"] == 4 * COMPLETION_TOKENS
    assert report["totals"]["total_tokens"] == 4 * (PROMPT_TOKENS + COMPLETION_TOKENS)
    assert report["totals"]["cost_usd"] > 0
    assert sum(b["requests"] for b in report["buckets"]) == 4
    hourly = behest.usage.get(token=own, granularity="hour")
    assert hourly["buckets"][0]["start"].endswith(":00:00Z")

    # An end user's token reads only its own usage.
    with pytest.raises(BehestAuthError):
        behest.usage.get(token=own, user_id="someone-else")
    # An admin token reads the project's, or one user's.
    admin = Behest(key=ADMIN_KEY, base_url=PROJECT_BASE)
    admin_token = admin.auth.mint(user_id="ops", role="admin").token
    theirs = behest.usage.get(token=admin_token, user_id=user)
    assert theirs["totals"]["total_tokens"] == report["totals"]["total_tokens"]
    everyone = behest.usage.get(token=admin_token)
    assert everyone["totals"]["requests"] >= 4

    # The dashboard's view: top users and the cost of each session.
    dash = httpx.get(
        f"{BASE}/auth/v1/projects/{PROJECT_ID}/usage",
        headers={"Authorization": f"Bearer {SESSION}"},
        params={"granularity": "day"},
    ).json()
    sessions = {s["session_id"]: s for s in dash["top_sessions"]}
    assert sessions[session]["requests"] == 4
    assert sessions[session]["total_tokens"] == 4 * (PROMPT_TOKENS + COMPLETION_TOKENS)
    assert sessions[session]["cost_usd"] > 0
    assert user in {u["user_id"] for u in dash["top_users"]}
