"""The answer's guard through the stock `openai` SDK: a blocked term mid-stream is an
APIError raised by the stream (after the text before it), and a masked value comes back
in the streamed answer. Run by crates/behest/tests/answer_guard.rs, which deploys the
project's settings and passes its base URL and an end-user token."""

import os

import openai
import pytest

client = openai.OpenAI(
    base_url=os.environ["BEHEST_TEST_BASE_URL"],
    api_key=os.environ["BEHEST_TEST_TOKEN"],
    max_retries=0,
)


def reversed_spell(text: str) -> str:
    return "spell-reversed:" + text[::-1]


def test_a_blocked_term_ends_the_stream_with_an_error():
    answer = "All good so far, and the codename is Project Titan, which ships soon."
    got = []
    stream = client.chat.completions.create(
        model="anything",
        messages=[{"role": "user", "content": reversed_spell(answer)}],
        stream=True,
    )
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    got.append(choice.delta.content)
    assert "blocklist:0" in str(raised.value)
    text = "".join(got)
    assert answer.startswith(text) and "Project" not in text, text


def test_a_masked_email_comes_back_in_the_stream():
    stream = client.chat.completions.create(
        model="anything",
        messages=[{"role": "user", "content": "spell:Sure, I will mail ada@example.com today."}],
        stream=True,
    )
    text = "".join(
        choice.delta.content or "" for chunk in stream for choice in chunk.choices
    )
    assert text == "Sure, I will mail ada@example.com today."
