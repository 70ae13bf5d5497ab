"""The commands a schedule may run: a registry of the app's own flask commands, with their
options read from the Click definitions. Nothing outside it can be scheduled; there is no shell."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from flask import current_app

from webapp.areas import schedulable_commands
from webapp.exceptions import Invalid
from webapp.values import parse_bool

ROOT = Path(__file__).resolve().parents[2]
OUTPUT_LIMIT = 64 * 1024
RUN_TIMEOUT_SECONDS = 3600


class CommandError(Invalid):
    """An unknown command or parameters it does not take."""


def click_command(name: str) -> click.Command:
    schedulable = schedulable_commands()
    if name not in schedulable:
        raise CommandError(
            f"{name!r} cannot be scheduled; use one of: {', '.join(schedulable)}", field="command"
        )
    group, sub = name.split(" ", 1)
    command = current_app.cli.commands[group].commands.get(sub)  # type: ignore[attr-defined]
    if command is None:
        raise CommandError(f"{name!r} is not a command of this app", field="command")
    return command


@dataclass
class OptionInfo:
    flag: str
    help: str
    is_flag: bool
    required: bool
    type_name: str


def options_of(name: str) -> list[OptionInfo]:
    """The options a schedulable command takes, for the form's help."""
    return [
        OptionInfo(
            max(param.opts, key=len),
            param.help or "",
            param.is_flag,
            param.required,
            param.type.name,
        )
        for param in click_command(name).params
        if isinstance(param, click.Option)
    ]


def validate_parameters(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters checked and converted as Click would; CommandError names each problem.

    Keys are options as on the command line ("--hours"); "args" holds positional arguments.
    """
    command = click_command(name)
    if not isinstance(parameters, dict):
        raise CommandError(
            'parameters must be an object of options, like {"--hours": "12"}', field="parameters"
        )
    options = {opt: p for p in command.params if isinstance(p, click.Option) for opt in p.opts}
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    cleaned: dict[str, Any] = {}
    problems = []
    refused: set[str] = set()
    ctx = click.Context(command)
    for key, value in parameters.items():
        if key == "args":
            values = value if isinstance(value, list) else [value]
            if not arguments:
                problems.append(f"{name} takes no arguments")
            else:
                cleaned["args"] = [str(v) for v in values]
            continue
        option = options.get(key)
        if option is None:
            known = ", ".join(sorted({max(p.opts, key=len) for p in options.values()})) or "none"
            problems.append(f"unknown option {key} for {name} (it takes: {known})")
            continue
        try:
            if option.is_flag:
                cleaned[key] = parse_bool(value, key)
            else:
                option.type.convert(str(value), option, ctx)
                cleaned[key] = str(value)
        except (click.BadParameter, Invalid) as exc:
            said = str(exc.message if hasattr(exc, "message") else exc).rstrip(".")
            problems.append(f"{key}: {said}")
            refused.add(key)
    for option in options.values():
        # a required option that was given but refused is reported once, with its reason
        if option.required and not any(opt in cleaned or opt in refused for opt in option.opts):
            problems.append(f"{max(option.opts, key=len)} is required")
    for argument in arguments:
        if argument.required and "args" not in cleaned:
            what = argument.human_readable_name
            problems.append(
                f"{name} needs its {what} argument, as on its command line: flask {name} {what}"
            )
    if problems:
        raise CommandError("; ".join(dict.fromkeys(problems)), field="parameters")
    return cleaned


def argv_for(name: str, parameters: dict[str, Any]) -> list[str]:
    """The command line, as a list (never through a shell)."""
    argv = name.split(" ")
    for key, value in parameters.items():
        if key == "args":
            continue
        if value is True:
            argv.append(key)
        elif value is not False:
            argv += [key, str(value)]
    return argv + list(parameters.get("args", []))


def _environment() -> dict[str, str]:
    """The child sees the same database, queue and upstreams as this app."""
    config = current_app.config
    return {
        **os.environ,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "QUEUE_URL": config["QUEUE_URL"],
        "SECRET_KEY": config["SECRET_KEY"],
        "DATA_DIR": config["DATA_DIR"],
        "TVMAZE_URL": config["TVMAZE_URL"],
        "RETRY_DELAYS": ",".join(str(d) for d in config["RETRY_DELAYS"]),
        "JOBDECK_INSTANCE_PATH": current_app.instance_path,
        # Its audit rows name the system, not the consumer's OS user (webapp.cli).
        "JOBDECK_SCHEDULED_RUN": "1",
    }


def run_command(name: str, parameters: dict[str, Any]) -> tuple[int, str]:
    """Run a schedulable command in a child process; returns its exit code and output."""
    argv = argv_for(name, validate_parameters(name, parameters))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *argv],
            cwd=ROOT,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace")
        return 124, output[-OUTPUT_LIMIT:] + f"\n(stopped after {RUN_TIMEOUT_SECONDS} s)"
    return done.returncode, done.stdout.decode(errors="replace")[-OUTPUT_LIMIT:]
