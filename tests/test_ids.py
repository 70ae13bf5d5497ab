"""Ids are never handed out twice: after every job log is pruned, the next job's id is larger."""

import pytest

from tasks.samples import sample_job


def prune_through_the_api(client, bearer, runner) -> int:
    response = client.delete("/api/job-logs/cleanup?days=0", headers=bearer("admin"))
    assert response.status_code == 200
    return response.get_json()["deleted"]


def prune_through_the_cli(client, bearer, runner) -> int:
    result = runner.invoke(args=["jobs", "prune", "--days", "0"])
    assert result.exit_code == 0, result.output
    return int(result.output.split()[1])  # "Deleted N finished job logs …"


@pytest.mark.parametrize("prune", [prune_through_the_api, prune_through_the_cli])
def test_a_job_after_a_prune_of_everything_gets_a_new_id(prune, client, bearer, runner):
    first = [sample_job.dispatch(steps=1, step_seconds=0) for _ in range(3)]
    assert prune(client, bearer, runner) == 3
    assert client.get(f"/api/job-logs/{first[-1]}", headers=bearer("viewer")).status_code == 404
    again = sample_job.dispatch(steps=1, step_seconds=0)
    assert again > max(first)
    shown = client.get(f"/api/job-logs/{again}", headers=bearer("viewer")).get_json()
    assert shown["id"] == again and shown["status"] == "completed"
