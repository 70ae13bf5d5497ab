"""The smaller lists sort, filter and page from the query string, as whole pages and as the
htmx fragments their headings and filters fetch; a sort or page they do not offer is a 400."""

from sqlalchemy import select

from tests.test_pages import HTMX, text
from webapp.extensions import db
from webapp.models.transfers import Export
from webapp.services import exports
from webapp.services import schedules as schedule_service
from webapp.services.listing import PAGE_SIZE


def make_schedules(count: int, **fields) -> None:
    for i in range(count):
        schedule_service.create_schedule(
            {
                "name": f"{fields.get('prefix', 'job')} {i:02d}",
                "command": fields.get("command", "jobs prune"),
                "parameters": {"--days": "30"},
                "cron": f"{i % 60} * * * *",
                "active": fields.get("active", True),
            }
        )


def names(body: str, prefix: str) -> list[str]:
    import re

    return re.findall(rf">({prefix} \d\d)</a>", body)


def test_schedules_sort_filter_and_page(client, login):
    login("viewer")
    make_schedules(PAGE_SIZE + 5)
    make_schedules(3, prefix="off", active=False)
    first = text(client.get("/schedules"))
    assert names(first, "job")[:2] == ["job 00", "job 01"] and 'rel="next"' in first
    assert "sort=-name" in first  # the Name heading flips the order
    second = text(client.get("/schedules?page=2", headers=HTMX))
    assert names(second, "job") == [f"job {i:02d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert names(second, "off") == ["off 00", "off 01", "off 02"]
    backwards = text(client.get("/schedules?sort=-name", headers=HTMX))
    assert names(backwards, "off")[0] == "off 02"
    paused = text(client.get("/schedules?state=off"))
    assert names(paused, "job") == [] and len(names(paused, "off")) == 3
    assert 'value="off" selected' in paused  # the filter is kept in the form
    found = text(client.get("/schedules?q=off+01", headers=HTMX))
    assert names(found, "off") == ["off 01"]
    nothing = text(client.get("/schedules?q=zzz"))
    assert "No schedule matches these filters." in nothing
    assert client.get("/schedules?sort=password").status_code == 400
    assert client.get("/schedules?page=0").status_code == 400


def test_toggling_keeps_the_list_as_it_was(client, login):
    login("operator")
    make_schedules(3)
    schedule = schedule_service.list_schedules()[0]
    body = text(client.post(f"/schedules/{schedule.id}/toggle?sort=-name&q=job", headers=HTMX))
    assert names(body, "job") == ["job 02", "job 01", "job 00"]
    assert 'hx-get="/schedules?q=job&amp;sort=-name"' in body


def test_exports_filter_by_dataset_and_status_and_sort(client, login, users):
    login("operator")
    for dataset in ("series", "episodes", "series"):
        client.post("/exports", data={"dataset": dataset, "format": "csv"})
    assert len(db.session.scalars(select(Export)).all()) == 3
    only_series = text(client.get("/exports?dataset=series", headers=HTMX))
    assert only_series.count('<tr id="export-') == 2
    newest_first = text(client.get("/exports"))
    assert newest_first.index('id="export-3"') < newest_first.index('id="export-1"')
    oldest_first = text(client.get("/exports?sort=created_at"))
    assert oldest_first.index('id="export-1"') < oldest_first.index('id="export-3"')
    none = text(client.get("/exports?status=failed"))
    assert "No export matches these filters." in none
    # someone else's exports are not in anyone's list but an admin's
    exports.start_export("series", "csv", {}, users["viewer"].id)
    assert text(client.get("/exports")).count('<tr id="export-') == 3


def test_integrations_filter_by_state(client, login):
    from webapp.services import integrations as integration_service

    user = login("operator")
    for name, active in (("alpha", True), ("beta", False)):
        item = integration_service.create_integration(
            user.id, "json_url", name, {"url": "http://127.0.0.1:9/x.json"}, 60
        )
        item.active = active
    db.session.commit()
    on = text(client.get("/integrations?state=on", headers=HTMX))
    assert ">alpha</a>" in on and ">beta</a>" not in on
    backwards = text(client.get("/integrations?sort=-name", headers=HTMX))
    assert backwards.index(">beta</a>") < backwards.index(">alpha</a>")


def test_series_sort_by_name_and_search(client, login):
    from webapp.models.series import Series

    db.session.add_all(
        Series(name=name, tvmaze_id=i) for i, name in enumerate(("Bones", "Archer", "Cosmos"), 1)
    )
    db.session.commit()
    login("viewer")
    newest_first = text(client.get("/series", headers=HTMX))
    assert newest_first.index("Cosmos") < newest_first.index("Bones")  # added last, shown first
    by_name = text(client.get("/series?sort=name", headers=HTMX))
    assert by_name.index("Archer") < by_name.index("Bones") < by_name.index("Cosmos")
    assert "sort=-name" in by_name  # the heading now flips it
    found = text(client.get("/series?q=o&sort=-name", headers=HTMX))
    assert "Cosmos" in found and "Bones" in found and "Archer" not in found
    assert found.index("Cosmos") < found.index("Bones")
