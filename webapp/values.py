"""Reading the values people type: one parser for yes/no, shared by forms, the API and the CLI."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField

from webapp.exceptions import Invalid

TRUE_WORDS = frozenset({"y", "yes", "true", "on", "1"})
FALSE_WORDS = frozenset({"", "n", "no", "false", "off", "0"})


def parse_bool(value: Any, name: str = "value") -> bool:
    """True for y/yes/true/on/1, false for n/no/false/off/0 or nothing (any case, any spaces);
    anything else raises Invalid naming ``name`` and the words it takes."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Invalid(
        f"{name} must be true or false (yes/no, on/off, 1/0), not {str(value)!r}", field=name
    )


class YesNoField(BooleanField):
    """A checkbox whose posted value is read by ``parse_bool``; garbage is a field error."""

    def process_formdata(self, valuelist: list) -> None:
        self.data = False
        if valuelist:
            try:
                self.data = parse_bool(valuelist[0], self.label.text)
            except Invalid as exc:
                raise ValueError(str(exc)) from None
