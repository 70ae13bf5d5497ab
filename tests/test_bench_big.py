"""The benchmark's bulk job-log generator writes rows the app lists, filters and searches like
its own."""

from datetime import timedelta

from bench.big import seed_job_logs, time_of
from webapp.extensions import db
from webapp.models.base import utcnow


def all_pages(client, headers, query: str) -> list[dict]:
    items, cursor = [], None
    while True:
        url = f"/api/job-logs?limit=200{query}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).get_json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_seeded_job_logs_are_listed_filtered_and_shown(client, bearer, login):
    now = utcnow()
    lowest, highest = seed_job_logs(db.engine, 1000, days=10, now=now, newest_active=5, chunk=300)
    assert highest - lowest == 999
    headers = bearer("viewer")

    items = all_pages(client, headers, "")
    assert [item["id"] for item in items] == list(range(highest, lowest - 1, -1))
    statuses = {item["status"] for item in items}
    assert statuses == {"completed", "failed", "cancelled", "pending"}
    assert [item["status"] for item in items[:5]] == ["pending"] * 5
    for item in items[5:]:
        assert item["started_at"] <= item["finished_at"] <= now.isoformat().replace("+00:00", "Z")
        assert 0 <= item["duration_s"] < 5
    assert items[-1]["created_at"] < (now - timedelta(days=10)).isoformat()

    failed = all_pages(client, headers, "&status=failed")
    assert len(failed) == 100 and all(item["error"].startswith("RuntimeError") for item in failed)
    # a time filter on the database's own text form of the times
    cutoff = time_of(500, 1000, 10, now).strftime("%Y-%m-%dT%H:%M:%SZ")
    older = all_pages(client, headers, f"&until={cutoff}")
    assert len(older) == 500

    login("viewer")
    page = client.get(f"/jobs/{highest - 10}")
    assert page.status_code == 200
