from flask import Blueprint, abort, request, url_for

from webapp.areas import record_page
from webapp.audit.forms import AuditFilterForm
from webapp.auth import role_required
from webapp.models.audit import AuditEntry
from webapp.models.users import Role
from webapp.services import audit
from webapp.templating import render_page

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50


def audit_filters(source) -> tuple[AuditFilterForm, audit.AuditFilters]:
    """The /audit filters from the query string; 400 when bad."""
    form = AuditFilterForm(source)
    if not form.validate():
        abort(400, "; ".join(f"{name}: {', '.join(errs)}" for name, errs in form.errors.items()))
    filters = audit.AuditFilters(
        actor=(form.actor.data or "").strip() or None,
        action=(form.action.data or "").strip() or None,
        target_type=(form.target_type.data or "").strip() or None,
        target_id=(form.target_id.data or "").strip() or None,
        since=form.since.data,
        until=form.until.data,
    )
    return form, filters


def target_url(entry: AuditEntry) -> str | None:
    """The page of the record a row is about, when it has one."""
    if not entry.target_id or not entry.target_id.isdigit():
        return None
    if entry.target_type == "job":
        return url_for("jobs.show", job_id=int(entry.target_id))
    page = record_page(entry.target_type)
    return page.url(int(entry.target_id)) if page else None


def audit_context() -> dict:
    form, filters = audit_filters(request.args)
    entries, next_cursor = audit.list_entries(filters, PAGE_SIZE, form.cursor.data)
    return {
        "form": form,
        "query": filters.as_query(),
        "entries": entries,
        "next_cursor": next_cursor,
        "first_page": form.cursor.data is None,
        "target_url": target_url,
    }


@bp.route("")
@role_required(Role.ADMIN)
def index():
    return render_page("audit/list.html", ("audit_table",), **audit_context())
