"""`/retriage` is a command only at the start of a line, outside quotes and code."""

from __future__ import annotations

import pytest

from bot.core.commands import Command, parse_command


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/retriage", Command("retriage", rerun=False)),
        ("/retriage rerun", Command("retriage", rerun=True)),
        ("/RETRIAGE re-run  ", Command("retriage", rerun=True)),
        ("thanks!\r\n/retriage\r\n", Command("retriage", rerun=False)),
        ("> /retriage", None),
        ("please /retriage", None),
        ("```\n/retriage\n```", None),
        ("    /retriage", None),
        ("/retriage now please", None),
        ("/retriaged", None),
        ("", None),
        (None, None),
        ("```\ncode\n```\n/retriage", Command("retriage", rerun=False)),
    ],
)
def test_parse_command(body: str | None, expected: Command | None) -> None:
    assert parse_command(body) == expected
