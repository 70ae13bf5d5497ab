from flask import Blueprint, abort, flash, redirect, render_template, url_for

from webapp.auth import role_required
from webapp.auth.forms import ActionForm
from webapp.models.users import Role
from webapp.services import audit
from webapp.services import users as user_service
from webapp.users.forms import NewUserForm, PasswordForm, RoleForm, TokenForm

bp = Blueprint("users", __name__, url_prefix="/users")


def _form_errors(form) -> str:
    return "; ".join(f"{name}: {', '.join(errs)}" for name, errs in form.errors.items())


@bp.route("", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def index():
    """Every user; the form adds one."""
    form = NewUserForm()
    status = 200
    if form.validate_on_submit():
        user = user_service.create_user(form.email.data, form.password.data, form.role.data)
        flash(f"Created {user.email} ({user.role}).", "success")
        return redirect(url_for("users.show", user_id=user.id))
    if form.errors:
        flash(_form_errors(form), "error")
        status = 422
    return render_template("users/list.html", users=user_service.list_users(), form=form), status


def show_context(user_id: int, new_token: str | None = None) -> dict:
    user = user_service.get_user(user_id)
    return {
        "user": user,
        "tokens": user_service.tokens_of(user),
        "history": audit.entries_for("user", user.id),
        "role_form": RoleForm(role=user.role),
        "password_form": PasswordForm(),
        "token_form": TokenForm(),
        "form": ActionForm(),
        "new_token": new_token,
    }


@bp.route("/<int:user_id>")
@role_required(Role.ADMIN)
def show(user_id: int):
    return render_template("users/show.html", **show_context(user_id))


def _checked(form) -> None:
    if not form.validate_on_submit():
        abort(400, _form_errors(form) or "the form expired; reload the page and try again")


@bp.route("/<int:user_id>/role", methods=["POST"])
@role_required(Role.ADMIN)
def change_role(user_id: int):
    form = RoleForm()
    _checked(form)
    user = user_service.update_user(user_service.get_user(user_id), role=form.role.data)
    flash(f"{user.email} is now {user.role}.", "success")
    return redirect(url_for("users.show", user_id=user_id))


@bp.route("/<int:user_id>/disable", methods=["POST"])
@role_required(Role.ADMIN)
def disable(user_id: int):
    _checked(ActionForm())
    user = user_service.disable_user(user_service.get_user(user_id))
    flash(f"{user.email} is disabled: their sessions and tokens no longer work.", "success")
    return redirect(url_for("users.show", user_id=user_id))


@bp.route("/<int:user_id>/enable", methods=["POST"])
@role_required(Role.ADMIN)
def enable(user_id: int):
    _checked(ActionForm())
    user = user_service.update_user(user_service.get_user(user_id), active=True)
    flash(f"{user.email} may sign in again.", "success")
    return redirect(url_for("users.show", user_id=user_id))


@bp.route("/<int:user_id>/password", methods=["POST"])
@role_required(Role.ADMIN)
def reset_password(user_id: int):
    form = PasswordForm()
    _checked(form)
    user = user_service.reset_password(user_service.get_user(user_id), form.password.data)
    flash(f"{user.email} has a new password.", "success")
    return redirect(url_for("users.show", user_id=user_id))


@bp.route("/<int:user_id>/tokens", methods=["POST"])
@role_required(Role.ADMIN)
def create_token(user_id: int):
    """A new token, shown on the page this once."""
    form = TokenForm()
    _checked(form)
    user = user_service.get_user(user_id)
    token = user_service.issue_token(user, form.name.data or "")
    return render_template("users/show.html", **show_context(user_id, new_token=token))


@bp.route("/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@role_required(Role.ADMIN)
def revoke_token(user_id: int, token_id: int):
    _checked(ActionForm())
    user = user_service.get_user(user_id)
    if token_id not in {t.id for t in user_service.tokens_of(user)}:
        abort(404, f"{user.email} has no token {token_id}")
    user_service.revoke_token(token_id)
    flash(f"Token {token_id} of {user.email} is revoked.", "success")
    return redirect(url_for("users.show", user_id=user_id))
