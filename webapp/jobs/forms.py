from flask_wtf import FlaskForm
from wtforms import TextAreaField


class RetryChangesForm(FlaskForm):
    """A failed or cancelled job's arguments, as JSON, to change before it runs again."""

    arguments = TextAreaField("Arguments (JSON, by parameter name)")
