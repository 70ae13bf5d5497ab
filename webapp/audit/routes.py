from flask import abort, request

from webapp.audit import bp
from webapp.audit.forms import AuditFilterForm
from webapp.auth import role_required
from webapp.models.users import Role
from webapp.services import audit
from webapp.templating import RECORD_PAGES, render_page

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


def audit_context() -> dict:
    form, filters = audit_filters(request.args)
    entries, next_cursor = audit.list_entries(filters, PAGE_SIZE, form.cursor.data)
    return {
        "form": form,
        "query": filters.as_query(),
        "entries": entries,
        "next_cursor": next_cursor,
        "first_page": form.cursor.data is None,
        "RECORD_TYPES": (*RECORD_PAGES, "export"),
    }


@bp.route("")
@role_required(Role.ADMIN)
def index():
    return render_page("audit/list.html", ("audit_table",), **audit_context())
