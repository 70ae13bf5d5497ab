from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth.forms import AccountForm, ActionForm, LoginForm
from webapp.extensions import db
from webapp.local_time import viewer_zone
from webapp.services import throttle
from webapp.services.users import authenticate

bp = Blueprint("auth", __name__, url_prefix="")


def _safe_next(target: str | None) -> str:
    """Only same-site paths may be redirected to after sign-in."""
    # Browsers read "/\\host" as "//host", so backslashes are refused as well.
    if (
        target
        and target.startswith("/")
        and not urlsplit(target).netloc
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        keys = throttle.login_keys(form.email.data, request.remote_addr)
        try:
            throttle.check(keys)
        except throttle.Throttled as exc:
            flash(str(exc), "error")
            page = render_template("auth/login.html", form=form)
            return page, 429, {"Retry-After": str(exc.retry_after)}
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            throttle.forget(keys[:1])
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        throttle.record_failure(keys)
        flash("Wrong e-mail or password.", "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.route("/logout", methods=["POST"])
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """The signed-in user's own settings: the time zone times are shown in."""
    form = AccountForm(obj=current_user)
    if form.validate_on_submit():
        current_user.timezone = form.timezone.data
        db.session.commit()
        flash(
            "Saved: times are shown in " + (form.timezone.data or "the browser's zone") + ".",
            "success",
        )
        return redirect(url_for("auth.account"))
    status = 422 if form.errors else 200
    return render_template("auth/account.html", form=form, zone=viewer_zone()), status
