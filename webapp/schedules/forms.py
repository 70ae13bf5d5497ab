from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webapp.areas import schedulable_commands
from webapp.boundary import MAX_INTEGER
from webapp.models.jobs import QUEUES
from webapp.services.timing import PRESETS
from webapp.values import YesNoField


class ScheduleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    command = SelectField("Command")
    parameters = TextAreaField(
        "Options",
        validators=[Optional()],
        description="One per line, as on the command line: --hours 12; an argument (like all "
        "for queue retry) on a line of its own",
    )
    preset = SelectField(
        "When",
        choices=[SelectChoice("", "Custom cron expression")]
        + [SelectChoice(key, label) for key, label in PRESETS.items()],
        validators=[Optional()],
    )
    cron = StringField("Cron expression", validators=[Optional(), Length(max=100)])
    preset_at = StringField("At (HH:MM)", validators=[Optional()])
    preset_day = StringField("Day (weekday or 1-31)", validators=[Optional()])
    preset_hours = StringField("Hours (twice daily, e.g. 1,13)", validators=[Optional()])
    timezone = StringField("Time zone", default="UTC", validators=[DataRequired()])
    queue = SelectField("Queue", choices=[SelectChoice(q) for q in QUEUES], default="default")
    active = YesNoField("Active", default=True)
    without_overlapping = YesNoField("Without overlapping")
    success_window_minutes = IntegerField(
        "Alert if no success within (minutes)",
        validators=[Optional(), NumberRange(min=1, max=MAX_INTEGER)],
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The commands the app's areas registered as schedulable, known once the app is built.
        self.command.choices = [SelectChoice(c, f"flask {c}") for c in schedulable_commands()]


def parameters_from_text(text: str) -> dict:
    """``--hours 12`` / ``--hours=12`` / ``--yes`` lines as a parameters object."""
    parameters: dict = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        key, _, value = line.replace("=", " ", 1).partition(" ")
        if key.startswith("-"):
            parameters[key] = value.strip() if value.strip() else True
        else:
            parameters.setdefault("args", []).append(line)
    return parameters


def parameters_to_text(parameters: dict) -> str:
    lines = []
    for key, value in (parameters or {}).items():
        if key == "args":
            lines += [str(v) for v in value]
        elif value is True:
            lines.append(key)
        elif value is not False:
            lines.append(f"{key} {value}")
    return "\n".join(lines)
