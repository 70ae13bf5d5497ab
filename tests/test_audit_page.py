"""The audit log as a person reads it on /audit: each change one "field: old → new" line in
words (never Python's dict or True/False); the API keeps the same changes as JSON."""

from __future__ import annotations

import re
from html import unescape

PRUNE = {"name": "Prune", "command": "jobs prune", "parameters": {"--days": "30"}}


def change_lines(page: str) -> list[str]:
    """The text of every line of every changes list on the page."""
    lists = re.findall(r'<ul class="changes">(.*?)</ul>', page, re.S)
    items = [item for block in lists for item in re.findall(r"<li>(.*?)</li>", block, re.S)]
    return [unescape(re.sub(r"<[^>]+>", "", item)) for item in items]


def test_the_audit_page_shows_changes_as_lines_in_words(client, login, bearer):
    admin = bearer("admin")
    created = client.post(
        "/api/schedules", json={**PRUNE, "cron": "0 3 * * *"}, headers=admin
    ).get_json()
    client.patch(
        f"/api/schedules/{created['id']}",
        json={"active": False, "parameters": {"--days": "7"}},
        headers=admin,
    )
    client.post(
        "/api/exports",
        json={"dataset": "job_logs", "format": "csv", "filters": {"status": "failed"}},
        headers=admin,
    )
    login("admin")
    page = client.get("/audit").get_data(as_text=True)
    lines = change_lines(page)
    assert "active: yes → no" in lines
    assert "parameters: --days: 30 → --days: 7" in lines
    assert "parameters: — → --days: 30" in lines  # created: nothing before
    assert "filters: status: failed" in lines
    assert "description: — → —" not in lines  # an unchanged field is no line
    for line in lines:
        assert "{'" not in line and "True" not in line and "False" not in line, line
        assert "None" not in line, line

    # the schedule's own page lists the same lines
    own = change_lines(client.get(f"/schedules/{created['id']}").get_data(as_text=True))
    assert "active: yes → no" in own

    # and the API keeps them as JSON, before and after
    rows = client.get("/api/audit?action=schedule.update", headers=admin).get_json()["items"]
    assert rows[0]["changes"]["active"] == [True, False]
    assert rows[0]["changes"]["parameters"] == [{"--days": "30"}, {"--days": "7"}]
