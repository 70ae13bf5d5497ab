from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    # Not WTForms' Email(): it refuses the first admin's address, admin@localhost.
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A button that changes state: only its CSRF token."""
