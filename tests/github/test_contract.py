"""The contract files themselves: vendored versions, every fake route documented, payloads valid."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.github.conftest import FIXTURES, check_webhook, issue_comment_event, webhook_example, workflow_run_event
from tests.github.fake import _SPEC, ROUTE_OPERATIONS, api, example


def test_the_subset_records_its_source_package() -> None:
    assert _SPEC["info"]["x-ci-triage-source"].startswith("@octokit/openapi@23.0.2 ")
    source = json.loads((FIXTURES / "webhooks" / "SOURCE.json").read_text("utf-8"))
    assert source["schema"] == "@octokit/webhooks-schemas@7.6.1"
    assert all(v.startswith("@octokit/webhooks-examples@7.6.1 ") for v in source["examples"].values())


def test_every_fake_route_is_an_operation_of_the_description() -> None:
    for method, path in ROUTE_OPERATIONS.values():
        assert method in _SPEC["paths"][path], (method, path)
    assert api() is api()


def test_the_description_rejects_what_github_would_never_send() -> None:
    jobs = example("get", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs")
    jobs["jobs"][0]["conclusion"] = "exploded"
    schema = _SPEC["paths"]["/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"]["get"]["responses"]["200"]
    from openapi_schema_validator import OAS30Validator

    validator = OAS30Validator(schema["content"]["application/json"]["schema"])
    assert not validator.is_valid(jobs)


def test_vendored_payloads_validate_and_bad_ones_do_not() -> None:
    check_webhook("workflow_run$completed", webhook_example("workflow_run.completed.json"))
    check_webhook("issue_comment$created", webhook_example("issue_comment.created.json"))
    assert issue_comment_event(3, "/retriage")["issue"]["pull_request"]
    bad = workflow_run_event(1)
    bad["workflow_run"]["conclusion"] = "exploded"
    with pytest.raises(jsonschema.ValidationError):
        check_webhook("workflow_run$completed", bad)
