"""Secrets never leave the bot: each detector, known values and multi-line keys."""

from __future__ import annotations

import base64

import pytest

from bot.core.redact import REDACTED, redact, redact_lines

GH = "ghp_" + "A1b2C3d4" * 5
SECRETS = [
    ("token " + GH, GH),
    ("pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABCDEFG"),
    ("gl glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789"),
    ("key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1", "wJalrXUtnFEMI"),
    ("slack xoxb-123456789012-abcdefghij", "xoxb-123456789012"),
    ("hook https://hooks.slack.com/services/T000/B000/XXXXXXXX", "hooks.slack.com/services/T000"),
    ("npm_" + "a" * 36, "npm_aaaa"),
    ("pypi-AgEIcHlwaS5vcmc" + "x" * 60, "pypi-AgE"),
    ("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4", "SflKxwRJSMeKKF2QT4"),
    ("git clone https://user:s3cretPass@github.com/o/r.git", "s3cretPass"),
    ("Authorization: Bearer abc.def.ghi123", "abc.def.ghi123"),
    ("PRIVATE-TOKEN: abcdefgh1234", "abcdefgh1234"),
    ("--password=hunter22hunter", "hunter22hunter"),
    ("export API_KEY: 'sk-abcdef123456'", "sk-abcdef123456"),
    ("-----BEGIN RSA PRIVATE KEY-----MIIEowIBAAKCAQEA", "MIIEowIBAAKCAQEA"),
    ("google AIza" + "B" * 35, "AIzaBBBB"),
    ("stripe sk_live_" + "c" * 24, "sk_live_"),
]


@pytest.mark.parametrize(("line", "secret"), SECRETS)
def test_detectors(line: str, secret: str) -> None:
    out = redact(line)
    assert secret not in out
    assert REDACTED in out


def test_keys_and_schemes_stay_readable() -> None:
    assert redact("https://user:pw123456@host/x") == f"https://{REDACTED}@host/x"
    assert redact("Authorization: token abcdef123") == f"Authorization: token {REDACTED}"
    assert redact("password=[MASKED]") == "password=[MASKED]"


def test_ordinary_text_is_untouched() -> None:
    line = "FAILED tests/test_tokens.py::test_password_reset - AssertionError: 3 != 4"
    assert redact(line) == line


def test_known_values_and_their_encodings() -> None:
    secret = "my-webhook-secret-value"
    encoded = base64.b64encode(secret.encode()).decode()
    out = redact(f"a {secret} b {encoded} c my%2Dwebhook", known=[secret, ""])
    assert secret not in out
    assert encoded not in out


def test_private_key_block_over_several_lines() -> None:
    lines = [
        "start",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "b3BlbnNzaC1rZXktdjEAAAAA",
        "AAAA",
        "-----END OPENSSH PRIVATE KEY-----",
        "after",
    ]
    out = redact_lines(lines)
    assert out[0] == "start"
    assert out[-1] == "after"
    assert all(x.startswith(REDACTED) for x in out[1:5])
