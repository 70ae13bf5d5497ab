from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from webapp.boundary import MAX_ID
from webapp.local_time import LocalDateTimeField
from webapp.models.jobs import QUEUES, JobStatus


def _choices(blank_label: str, values) -> list[SelectChoice]:
    return [SelectChoice("", blank_label)] + [SelectChoice(v) for v in values]


class JobFilterForm(FlaskForm):
    """The /jobs filters, read from the query string."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=_choices("any status", [s.value for s in JobStatus]),
        validators=[Optional()],
    )
    task = StringField("Task", validators=[Optional()])
    queue = SelectField("Queue", choices=_choices("any queue", QUEUES), validators=[Optional()])
    source_type = StringField("Record type", validators=[Optional()])
    source_id = IntegerField("Record id", validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    batch_id = IntegerField("Batch", validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    q = StringField("Search", validators=[Optional(), Length(max=200)])
    # In the viewer's zone (the page says which), as they think of times.
    since = LocalDateTimeField("Created after", validators=[Optional()])
    until = LocalDateTimeField("Created before", validators=[Optional()])
    order = SelectField(
        "Order",
        choices=[SelectChoice("", "newest first"), SelectChoice("oldest", "oldest first")],
        validators=[Optional()],
    )
    cursor = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])


class FailedFilterForm(FlaskForm):
    """The /failed filters: task, queue, error text and when it failed."""

    class Meta:
        csrf = False

    task = StringField("Task", validators=[Optional()])
    queue = SelectField("Queue", choices=_choices("any queue", QUEUES), validators=[Optional()])
    error = StringField("Error contains", validators=[Optional()])
    since = LocalDateTimeField("Failed after", validators=[Optional()])
    until = LocalDateTimeField("Failed before", validators=[Optional()])


class RetryChangesForm(FlaskForm):
    """A failed or cancelled job's arguments, as JSON, to change before it runs again."""

    arguments = TextAreaField("Arguments (JSON, by parameter name)")
