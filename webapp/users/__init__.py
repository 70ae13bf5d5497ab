"""User management for admins: the /users pages (the `users` commands live with auth)."""

from webapp.areas import Area, NavEntry, RecordPage, page_of
from webapp.models.users import Role, User
from webapp.services.job_labels import names_by
from webapp.users.routes import bp

area = Area(
    "users",
    blueprint=bp,
    nav=[NavEntry("Users", "users.index", order=100, current=("users.",), roles=(Role.ADMIN,))],
    record_pages=[RecordPage("user", page_of("users.show", "user_id"), names_by(User.email))],
)
