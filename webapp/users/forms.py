from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from webapp.models.users import Role
from webapp.services.users import MIN_PASSWORD_LENGTH

ROLES = [SelectChoice(role.value, role.value) for role in Role]


class NewUserForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=255)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)]
    )
    role = SelectField("Role", choices=ROLES, default=Role.VIEWER.value)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLES)


class PasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)]
    )


class TokenForm(FlaskForm):
    name = StringField("Label", validators=[Length(max=100)])
