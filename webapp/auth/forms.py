from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField
from wtforms.validators import DataRequired, Length

from webapp.services.timing import zone_names


class LoginForm(FlaskForm):
    # Not WTForms' Email(): it refuses the first admin's address, admin@localhost.
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A button that changes state: only its CSRF token."""


class AccountForm(FlaskForm):
    """The signed-in user's own settings."""

    timezone = SelectField("Time zone", validate_choice=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = [("", "The browser's time zone")] + [
            (name, name) for name in sorted(zone_names())
        ]
