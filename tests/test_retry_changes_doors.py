"""Retry with changes through its doors: the job page's form, POST /api/job-logs/<id>/retry
with {"kwargs"} and `jobs retry --kwargs`; bad input queues nothing and says why."""

import json
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from tasks.samples import sample_job
from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models.audit import AuditEntry
from webapp.models.jobs import JobLog
from webapp.services.users import create_user, issue_token


def job_count() -> int:
    return db.session.scalar(select(func.count()).select_from(JobLog))


def failed_sample(**owner) -> int:
    return sample_job.dispatch(steps=2, step_seconds=0, fail_at_step=2, **owner)


class Form(HTMLParser):
    """The retry form's textarea text and the alert under it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.textarea = self.alert = None
        self._in = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "textarea" and attrs.get("name") == "arguments":
            self._in, self.textarea = "textarea", ""
        elif tag == "p" and attrs.get("role") == "alert":
            self._in, self.alert = "alert", ""

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "textarea":
            self.textarea += data
        elif self._in == "alert":
            self.alert += data


def test_the_job_page_offers_the_form_and_the_new_job_shows_what_changed(client, login):
    login("operator")
    job_id = failed_sample()
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert f'href="/jobs/{job_id}/retry-with-changes"' in page and "Retry with changes" in page
    form = Form(client.get(f"/jobs/{job_id}/retry-with-changes").get_data(as_text=True))
    assert json.loads(form.textarea) == {"steps": 2, "step_seconds": 0, "fail_at_step": 2}
    changed = {"steps": 3, "step_seconds": 0}  # fail_at_step left out: its default, None
    response = client.post(
        f"/jobs/{job_id}/retry-with-changes", data={"arguments": json.dumps(changed)}
    )
    assert response.status_code == 302
    new_id = int(response.location.rsplit("/", 1)[1])
    again = db.session.get(JobLog, new_id)
    assert again.retry_of == job_id and again.status == "completed"
    assert again.message == "Counted 3 steps."
    shown = client.get(f"/jobs/{new_id}").get_data(as_text=True)
    assert f"Changed from #{job_id}" in shown
    assert "<td><code>steps</code></td><td><code>2</code></td><td><code>3</code></td>" in shown
    assert "<code>fail_at_step</code></td><td><code>2</code></td><td><code>null</code>" in shown
    assert "Retried by operator@example.com" in client.get(f"/jobs/{job_id}").get_data(as_text=True)
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "job.retry_with_changes")
    ).one()
    assert entry.target_id == str(job_id) and entry.channel == "page"
    assert entry.changes == {"new_job": new_id, "steps": [2, 3], "fail_at_step": [2, None]}
    # retried once: the form is refused, in words
    twice = client.get(f"/jobs/{job_id}/retry-with-changes", follow_redirects=True)
    assert twice.request.path == f"/jobs/{job_id}"
    assert f"job {job_id} was already retried as job {new_id}" in twice.get_data(as_text=True)
    before = job_count()
    again = client.post(f"/jobs/{job_id}/retry-with-changes", data={"arguments": "{}"})
    assert again.status_code == 302 and job_count() == before


DEEP = '{"steps": ' + "[" * 40 + "]" * 40 + "}"
BAD_FORMS = [
    ('{"steps": 3', 422, "arguments is not valid JSON: Expecting ',' delimiter"),
    ("", 422, "arguments is not valid JSON"),
    ("[1, 2]", 422, "arguments must be an object of argument names and values"),
    ('{"kwargs": {"steps": 3}}', 422,
     "sample_job takes no argument 'kwargs' (give the arguments by name at the top level)"),
    ('{"colour": "red"}', 422, "sample_job takes no argument 'colour'; it takes: steps, "),
    ('{"steps": "three"}', 422, 'steps must be int, not "three"'),
    ('{"steps": true}', 422, "steps must be int, not true"),
    ('{"steps": {"n": 3}}', 422, 'steps must be int, not {"n": 3}'),
    ('{"steps": 1e400}', 422, "arguments must hold JSON values"),
    ('{"steps": 99999999999999999999999}', 422,
     "arguments must hold whole numbers from -9223372036854775808 to 9223372036854775807"),
    ('{"steps": [1, {"n": -9223372036854775809}]}', 422, "arguments must hold whole numbers"),
    ('{"steps": 1, "step_seconds": "' + "x" * 70_000 + '"}', 422, "at most 65536 bytes"),
    (DEEP, 422, "arguments must nest at most 32 levels"),
    ('{"steps": "\\u0000"}', 400, "arguments must not contain a NUL character"),
]  # fmt: skip


@pytest.mark.parametrize(("typed", "status", "said"), BAD_FORMS)
def test_bad_arguments_are_shown_in_the_form_and_queue_nothing(client, login, typed, status, said):
    login("operator")
    job_id = failed_sample()
    before = job_count()
    response = client.post(f"/jobs/{job_id}/retry-with-changes", data={"arguments": typed})
    assert response.status_code == status
    form = Form(response.get_data(as_text=True))
    assert said in form.alert
    assert form.textarea.strip() == typed.strip()  # what was typed stays to be mended
    assert job_count() == before


def test_only_an_operator_of_the_job_may_retry_it_with_changes(client, login, users, app):
    other = create_user("other@example.com", PASSWORD, "operator")
    theirs = failed_sample(user_id=other.id)
    login("viewer")
    assert client.get(f"/jobs/{theirs}/retry-with-changes").status_code == 403
    assert client.post(f"/jobs/{theirs}/retry-with-changes").status_code == 403
    client.post("/logout")
    login("operator")
    assert client.get(f"/jobs/{theirs}/retry-with-changes").status_code == 404
    before = job_count()
    posted = client.post(f"/jobs/{theirs}/retry-with-changes", data={"arguments": "{}"})
    assert posted.status_code == 404 and job_count() == before
    done = sample_job.dispatch(steps=1, step_seconds=0)
    refused = client.get(f"/jobs/{done}/retry-with-changes", follow_redirects=True)
    assert refused.request.path == f"/jobs/{done}"
    assert "only failed or cancelled jobs can be retried" in refused.get_data(as_text=True)


# -- the API -----------------------------------------------------------------------------------


def test_the_api_retries_with_kwargs_or_plainly(client, bearer):
    headers = bearer("operator")
    job_id = failed_sample()
    response = client.post(
        f"/api/job-logs/{job_id}/retry", json={"kwargs": {"fail_at_step": None}}, headers=headers
    )
    assert response.status_code == 202, response.get_json()
    again = response.get_json()
    assert again["retry_of"] == job_id and again["status"] == "completed"
    assert again["payload"]["fail_at_step"] is None
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "job.retry_with_changes")
    ).one()
    assert entry.channel == "api" and entry.changes["fail_at_step"] == [2, None]
    plain = failed_sample()
    for body in ({}, {"kwargs": None}):
        assert client.post(
            f"/api/job-logs/{plain}/retry", json=body, headers=headers
        ).status_code in (
            202,
            409,
        )
    assert db.session.scalar(select(func.count()).where(JobLog.retry_of == plain)) == 1
    no_body = failed_sample()
    assert client.post(f"/api/job-logs/{no_body}/retry", headers=headers).status_code == 202


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({"kwargs": {"colour": 1}}, 422, "kwargs: sample_job takes no argument 'colour'"),
        ({"kwargs": {"steps": "3"}}, 422, 'kwargs: steps must be int, not "3"'),
        ({"kwargs": {"steps": 1, "x": "y" * 70_000}}, 422, "at most 65536 bytes"),
        ({"kwargs": {"steps": json.loads("[" * 40 + "]" * 40)}}, 422, "nest at most 32 levels"),
        ({"kwargs": {"steps": "\x00"}}, 400, "NUL"),
        ({"kwargs": "steps=3"}, 400, "kwargs"),
        ({"kwargs": {}, "colour": 1}, 422, "colour is not a field of this request"),
        ("not json", 400, "send a JSON object"),
        ([1, 2], 400, "send a JSON object"),
    ],
)  # fmt: skip
def test_bad_kwargs_are_refused_in_words_and_queue_nothing(client, bearer, body, status, said):
    job_id = failed_sample()
    before = job_count()
    kwargs = (
        {"data": body, "content_type": "application/json"}
        if isinstance(body, str)
        else {"json": body}
    )
    response = client.post(f"/api/job-logs/{job_id}/retry", headers=bearer("admin"), **kwargs)
    assert response.status_code == status, response.get_json()
    assert said in response.get_json()["error"]["message"]
    assert job_count() == before


def test_the_api_keeps_to_the_callers_jobs_and_roles(client, users, bearer):
    other = create_user("other@example.com", PASSWORD, "operator")
    theirs = failed_sample(user_id=other.id)
    body = {"kwargs": {"fail_at_step": None}}
    assert (
        client.post(
            f"/api/job-logs/{theirs}/retry", json=body, headers=bearer("viewer")
        ).status_code
        == 403
    )
    mine = {"Authorization": f"Bearer {issue_token(users['operator'])}"}
    assert client.post(f"/api/job-logs/{theirs}/retry", json=body, headers=mine).status_code == 404
    assert db.session.scalar(select(func.count()).where(JobLog.retry_of == theirs)) == 0


# -- the command line --------------------------------------------------------------------------


def test_jobs_retry_takes_kwargs(runner):
    job_id = failed_sample()
    bad = runner.invoke(args=["jobs", "retry", str(job_id), "--kwargs", "{steps: 3}"])
    assert bad.exit_code == 1 and "--kwargs is not valid JSON" in bad.output
    assert "Traceback" not in bad.output
    unknown = runner.invoke(args=["jobs", "retry", str(job_id), "--kwargs", '{"colour": 1}'])
    assert unknown.exit_code == 1 and "takes no argument 'colour'" in unknown.output
    done = runner.invoke(
        args=["jobs", "retry", str(job_id), "--kwargs", '{"fail_at_step": null, "steps": 4}']
    )
    assert done.exit_code == 0, done.output
    new_id = int(done.output.split()[-1].rstrip("."))
    again = db.session.get(JobLog, new_id)
    assert again.retry_of == job_id and again.message == "Counted 4 steps."
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "job.retry_with_changes")
    ).one()
    assert entry.channel == "cli"
