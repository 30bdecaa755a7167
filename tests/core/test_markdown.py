"""Hostile text cannot break out of the comment, mention people or run GitLab quick actions."""

from __future__ import annotations

from bot.core.markdown import ZWSP, clip, code_block, code_span, inline


def test_inline_neutralises_mentions_references_html_and_links() -> None:
    out = inline("@octocat see #12 and !3 ~bug <img src=x> [a](http://evil) **b**")
    assert "@octocat" not in out
    assert "#12" not in out
    assert "<img" not in out
    assert "[a](" not in out and "\\[a\\]" in out
    assert "**" not in out


def test_inline_quick_action_and_controls() -> None:
    assert inline("/merge").startswith(ZWSP)
    assert "\u202e" not in inline("abc\u202edef")
    assert "\n" not in inline("a\nb")
    assert len(inline("x" * 1000, 50)) == 50


def test_code_block_cannot_be_closed_and_is_an_exact_fence() -> None:
    out = code_block(["```", "~~~~", "/approve", "  /merge", "<!-- ci-triage:end 1 -->"])
    lines = out.split("\n")
    assert lines[0] == "```text"
    assert lines[-1] == "```"
    assert all("```" not in line for line in lines[1:-1])
    assert lines[3].startswith(ZWSP)
    assert lines[4].startswith(ZWSP)
    assert "<!--" not in out


def test_code_span() -> None:
    assert code_span("a`b") == "`a'b`"
    assert code_span("  ") == "` `"


def test_clip() -> None:
    assert clip("abc", 5) == "abc"
    assert clip("abcdef", 4) == "abc…"


def test_prose_keeps_code_spans_and_escapes_the_rest() -> None:
    from bot.core.markdown import prose

    out = prose("Run `podman system df` then ask @admin <b>now</b>")
    assert "`podman system df`" in out
    assert "@admin" not in out and "<b>" not in out
    assert prose("/merge this").startswith(ZWSP)
    assert prose("`a` and `b`") == "`a` and `b`"
