"""The published `behest-ai` SDK against a running Behest (started by the Rust test
`crates/behest/tests/sdk_conformance.rs`, which passes the server and fixtures in
BEHEST_TEST_* variables). Tokens are verified with PyJWT against the server's JWKS,
as any third party would."""

import os
import time
import uuid

import jwt
import pytest
from behest import (
    Behest,
    BehestAuthError,
    BehestError,
    BehestBadRequestError,
    decode_token,
)

BASE = os.environ["BEHEST_TEST_BASE"]
SLUG = os.environ["BEHEST_TEST_SLUG"]
KEY = os.environ["BEHEST_TEST_KEY"]
PROJECT_ID = os.environ["BEHEST_TEST_PROJECT_ID"]
TENANT_ID = os.environ["BEHEST_TEST_TENANT_ID"]
SIGNING_KEY = os.environ["BEHEST_TEST_SIGNING_KEY"]
SIGNING_KID = os.environ["BEHEST_TEST_SIGNING_KID"]
SIGNING_PUBLIC_PEM = os.environ["BEHEST_TEST_SIGNING_PUBLIC_PEM"]

CLAIM_ORDER = ["tid", "pid", "uid", "role", "scp", "iss", "aud", "iat", "nbf", "exp", "jti", "sid"]


def verify_with_jwks(token: str) -> dict:
    client = jwt.PyJWKClient(f"{BASE}/.well-known/jwks.json")
    key = client.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience="behest",
        issuer="behest",
        options={"require": ["exp", "nbf", "iat", "aud", "iss"]},
    )


@pytest.mark.parametrize("base_url", [f"{BASE}/p/{SLUG}", BASE], ids=["project-prefix", "api-host"])
def test_mint_with_an_api_key_verifies_against_the_jwks(base_url):
    behest = Behest(key=KEY, base_url=base_url)
    assert behest.mode == "apiKey"
    before = int(time.time())
    result = behest.auth.mint(user_id="user-123", tier=2, ttl=900, session_id="sess-42")
    claims = verify_with_jwks(result.token)
    assert claims["tid"] == TENANT_ID
    assert claims["pid"] == PROJECT_ID
    assert claims["uid"] == "user-123"
    assert claims["role"] == "user"
    assert claims["scp"] == []
    assert claims["sid"] == "sess-42"
    assert claims["exp"] - claims["iat"] == 900
    assert "tier" not in claims, "a tier the project does not have is ignored"
    uuid.UUID(claims["jti"])
    assert result.session_id == "sess-42"
    assert result.ttl == 900
    assert before + 900 <= result.expires_at <= int(time.time()) + 900
    assert list(decode_token(result.token).keys()) == CLAIM_ORDER
    header = jwt.get_unverified_header(result.token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"]


def test_mint_defaults_and_generated_session():
    behest = Behest(key=KEY, base_url=BASE)
    result = behest.auth.mint()
    claims = verify_with_jwks(result.token)
    assert claims["uid"] == "default", "the SDK's fallback user id is accepted"
    assert claims["exp"] - claims["iat"] == 3600
    uuid.UUID(result.session_id)
    assert behest.auth.last_session_id == result.session_id


def test_legacy_mint_token_alias():
    behest = Behest(key=KEY, base_url=BASE)
    with pytest.warns(DeprecationWarning):
        legacy = behest.mint_token(userId="legacy-user")
    assert legacy["access_token"] == legacy["token"]
    assert verify_with_jwks(legacy["token"])["uid"] == "legacy-user"


def test_errors_reach_the_sdk_typed():
    unknown = Behest(key="behest_sk_live_" + "A" * 36, base_url=BASE)
    with pytest.raises(BehestAuthError) as err:
        unknown.auth.mint(user_id="u")
    assert err.value.status == 401
    assert err.value.code == "invalid_token"
    assert err.value.trace_id

    behest = Behest(key=KEY, base_url=BASE)
    with pytest.raises(BehestBadRequestError) as err:
        behest.auth.mint(user_id="system")
    assert err.value.status == 400 and err.value.code == "validation_error"
    assert "reserved" in str(err.value)
    with pytest.raises(BehestBadRequestError):
        behest.auth.mint(user_id="u", ttl=59)
    with pytest.raises(BehestAuthError) as err:
        behest.auth.mint(user_id="u", role="admin")
    assert err.value.status == 403 and err.value.code == "forbidden"


def test_an_unknown_project_host_is_a_404():
    behest = Behest(key=KEY, base_url=f"{BASE}/p/no-such-project-000")
    with pytest.raises(BehestError) as err:
        behest.auth.mint(user_id="u")
    assert err.value.status == 404 and err.value.code == "not_found"


def test_sign_mode_with_a_dashboard_signing_key():
    behest = Behest(
        key=SIGNING_KEY,
        kid=SIGNING_KID,
        tenant_id=TENANT_ID,
        project_id=PROJECT_ID,
        base_url=BASE,
    )
    assert behest.mode == "sign"
    result = behest.auth.mint(user_id="local-user", tier=1)
    assert jwt.get_unverified_header(result.token)["kid"] == SIGNING_KID
    claims = jwt.decode(
        result.token,
        SIGNING_PUBLIC_PEM,
        algorithms=["RS256"],
        audience="behest",
        issuer="https://api.behest.ai",
    )
    assert (claims["tid"], claims["pid"], claims["uid"], claims["tier"]) == (TENANT_ID, PROJECT_ID, "local-user", 1)


# --- the data plane, with the project's built-in echo model --------------------------

import openai  # noqa: E402

PROJECT_BASE = f"{BASE}/p/{SLUG}"


def _openai_client(token: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=token, base_url=f"{PROJECT_BASE}/v1", max_retries=0)


def test_openai_sdk_chat_and_stream_with_a_minted_token():
    minted = Behest(key=KEY, base_url=PROJECT_BASE).auth.mint(user_id="openai-user")
    client = _openai_client(minted.token)
    completion = client.chat.completions.create(
        model="anything", messages=[{"role": "user", "content": "Hello from openai-python"}]
    )
    assert completion.choices[0].message.content == "Hello from openai-python"
    assert completion.model == "behest/echo"
    assert completion.usage.total_tokens > 0

    stream = client.chat.completions.create(
        model="anything",
        messages=[{"role": "user", "content": "Stream me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Stream me please"
    assert chunks[-1].usage is not None and chunks[-1].choices == []

    models = client.models.list()
    assert [m.id for m in models.data] == ["behest/echo"]


def test_openai_sdk_errors_are_typed():
    with pytest.raises(openai.AuthenticationError) as err:
        _openai_client("not-a-token").chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.status_code == 401
    assert err.value.body["code"] == "invalid_token"
    minted = Behest(key=KEY, base_url=PROJECT_BASE).auth.mint(user_id="openai-user")
    with pytest.raises(openai.BadRequestError) as err:
        _openai_client(minted.token).chat.completions.create(model="x", messages=[])
    assert err.value.body["param"] == "messages"


def test_behest_sdk_streams_with_minted_and_locally_signed_tokens():
    minted = Behest(key=KEY, base_url=PROJECT_BASE)
    local = Behest(key=SIGNING_KEY, kid=SIGNING_KID, tenant_id=TENANT_ID, project_id=PROJECT_ID, base_url=PROJECT_BASE)
    for behest in (minted, local):
        chunks = list(
            behest.chat.completions.create(
                messages=[{"role": "user", "content": f"hi from {behest.mode}"}],
                stream=True,
                user_id="sdk-user",
            )
        )
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == f"hi from {behest.mode}"
        answer = behest.chat.completions.create(messages=[{"role": "user", "content": "plain"}], user_id="sdk-user")
        assert answer["choices"][0]["message"]["content"] == "plain"
