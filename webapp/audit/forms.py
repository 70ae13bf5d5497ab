from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional

from webapp.boundary import MAX_ID
from webapp.local_time import LocalDateTimeField


class AuditFilterForm(FlaskForm):
    """The /audit filters, read from the query string."""

    class Meta:
        csrf = False

    actor = StringField("Who", validators=[Optional(), Length(max=255)])
    action = StringField("Action", validators=[Optional(), Length(max=50)])
    target_type = StringField("Target type", validators=[Optional(), Length(max=50)])
    target_id = StringField("Target id", validators=[Optional(), Length(max=200)])
    # In the viewer's zone, which the page names beside the fields.
    since = LocalDateTimeField("From", validators=[Optional()])
    until = LocalDateTimeField("Until", validators=[Optional()])
    cursor = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
