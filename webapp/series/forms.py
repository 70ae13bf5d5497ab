from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, NumberRange

from webapp.boundary import MAX_INTEGER


class AddSeriesForm(FlaskForm):
    id_type = SelectField(
        "Id from",
        choices=[SelectChoice("tvmaze", "TVmaze"), SelectChoice("tvdb", "TheTVDB")],
        default="tvmaze",
    )
    show_id = IntegerField(
        "Show id", validators=[DataRequired(), NumberRange(min=1, max=MAX_INTEGER)]
    )
