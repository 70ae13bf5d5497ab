from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from tasks.integrations import process_integration_data
from webapp.auth import role_required
from webapp.auth.forms import ActionForm
from webapp.integrations.forms import IntegrationForm
from webapp.models.integrations import Integration
from webapp.models.users import Role
from webapp.services import integrations as service
from webapp.services.jobs import active_job_for, jobs_for_record
from webapp.services.listing import Listing
from webapp.services.ownership import viewer_of
from webapp.templating import already_working, render_page

bp = Blueprint("integrations", __name__, url_prefix="/integrations")


def _own(integration_id: int):
    """The signed-in user's integration; anyone else's is simply not found."""
    return service.integration_for(integration_id, current_user.id)


INTEGRATION_SORTS = {
    "name": Integration.name,
    "service": Integration.service,
    "update_frequency_minutes": Integration.update_frequency_minutes,
    "last_successful_update_at": Integration.last_successful_update_at,
}


def list_context(form: IntegrationForm | None = None) -> dict:
    """The user's integrations as the query string filters (service, on/off) and sorts them."""
    listing = Listing.read(request.args, INTEGRATION_SORTS, "name", ("service", "state"))
    stmt = select(Integration).where(Integration.user_id == current_user.id)
    if "service" in listing.filters:
        stmt = stmt.where(Integration.service == listing.filters["service"])
    if listing.filters.get("state") in ("on", "off"):
        stmt = stmt.where(Integration.active.is_(listing.filters["state"] == "on"))
    rows, has_next = listing.page_of(stmt, INTEGRATION_SORTS, Integration.id)
    return {
        "rows": rows,
        "listing": listing,
        "has_next": has_next,
        "add_form": form or IntegrationForm(),
        "form": ActionForm(),
        "plugins": service.PLUGINS,
        "any_processing": any(i.processing for i in rows),
    }


@bp.route("")
@login_required
def index():
    return render_page(
        "integrations/list.html", ("integrations_table",), live=True, **list_context()
    )


@bp.route("", methods=["POST"])
@role_required(Role.OPERATOR)
def create():
    form = IntegrationForm()
    if form.validate_on_submit():
        settings = {"tvmaze_id": form.tvmaze_id.data, "url": form.url.data}
        try:
            integration = service.create_integration(
                current_user.id,
                form.service.data,
                form.name.data or "",
                settings,
                form.update_frequency_minutes.data,
            )
        except service.IntegrationError as exc:
            form.service.errors.append(str(exc))
        else:
            flash(f"Added {integration.name}; it updates at the next check.", "success")
            return redirect(url_for("integrations.show", integration_id=integration.id))
    return render_page("integrations/list.html", ("integrations_table",), **list_context(form)), 422


def detail_context(integration_id: int) -> dict:
    integration = _own(integration_id)
    jobs = jobs_for_record("integration", integration.id, 20, viewer_of(current_user))
    return {
        "integration": integration,
        "jobs": jobs,
        "next_update_at": service.next_update_at(integration),
        "form": ActionForm(),
    }


@bp.route("/<int:integration_id>")
@login_required
def show(integration_id: int):
    return render_page(
        "integrations/show.html",
        ("integration_status",),
        live=True,
        **detail_context(integration_id),
    )


def _checked_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")


@bp.route("/<int:integration_id>/fetch", methods=["POST"])
@role_required(Role.OPERATOR)
def fetch(integration_id: int):
    integration = _own(integration_id)
    _checked_form()
    # (trigger_due first releases a trigger whose job ended, e.g. was cancelled)
    if service.trigger_due(force=True, only_ids=[integration.id]):
        process_integration_data.dispatch(
            integration.id, user_id=current_user.id, source=("integration", integration.id)
        )
        flash(f"Updating {integration.name} now.", "success")
    elif queued := active_job_for("integration", integration.id, process_integration_data.name):
        flash(already_working(integration.name, queued, viewer_of(current_user)), "info")
    else:
        flash(f"{integration.name} is already being updated.", "info")
    return redirect(url_for("integrations.show", integration_id=integration.id))


@bp.route("/<int:integration_id>/toggle", methods=["POST"])
@role_required(Role.OPERATOR)
def toggle(integration_id: int):
    integration = _own(integration_id)
    _checked_form()
    service.set_active(integration, not integration.active)
    flash(f"{integration.name} {'resumed' if integration.active else 'paused'}.", "success")
    return redirect(url_for("integrations.index"))


@bp.route("/<int:integration_id>/delete", methods=["POST"])
@role_required(Role.OPERATOR)
def delete(integration_id: int):
    integration = _own(integration_id)
    _checked_form()
    service.delete_integration(integration)
    flash(f"Deleted {integration.name}.", "success")
    return redirect(url_for("integrations.index"))
