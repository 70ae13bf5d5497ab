from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webapp.services.integrations import PLUGINS


class IntegrationForm(FlaskForm):
    service = SelectField(
        "Service",
        choices=[SelectChoice(p.service, p.label) for p in PLUGINS.values()],
        validators=[DataRequired()],
    )
    name = StringField("Name", validators=[Optional(), Length(max=100)])
    update_frequency_minutes = IntegerField(
        "Every (minutes)", default=60, validators=[DataRequired(), NumberRange(min=1, max=100_000)]
    )
    tvmaze_id = StringField("TVmaze show id", validators=[Optional()])
    url = StringField("JSON URL", validators=[Optional(), Length(max=2000)])
