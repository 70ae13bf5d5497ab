from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional

from webapp.boundary import MAX_ID


class AuditFilterForm(FlaskForm):
    """The /audit filters, read from the query string."""

    class Meta:
        csrf = False

    actor = StringField("Who", validators=[Optional(), Length(max=255)])
    action = StringField("Action", validators=[Optional(), Length(max=50)])
    target_type = StringField("Target type", validators=[Optional(), Length(max=50)])
    target_id = StringField("Target id", validators=[Optional(), Length(max=200)])
    since = DateTimeLocalField(
        "From (UTC)", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=[Optional()]
    )
    until = DateTimeLocalField(
        "Until (UTC)", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=[Optional()]
    )
    cursor = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
