from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from webapp.services.exports import DATASETS, FORMATS
from webapp.services.importers import IMPORTERS
from webapp.values import YesNoField


class ImportForm(FlaskForm):
    file = FileField("CSV or XLSX file", validators=[FileRequired()])
    importer = SelectField(
        "Importer", choices=[SelectChoice(i.name, i.label) for i in IMPORTERS.values()]
    )
    dry_run = YesNoField("Dry run: check everything, write nothing")


class ExportForm(FlaskForm):
    dataset = SelectField("Dataset", choices=[SelectChoice(d) for d in DATASETS])
    format = SelectField("Format", choices=[SelectChoice(f) for f in FORMATS])
    status = StringField("Status", validators=[Optional()])
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])
    search = StringField("Containing", validators=[Optional()])
