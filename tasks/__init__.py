"""The app's own tasks: one module per area (series, integrations, transfers, schedules, upkeep,
maintenance, samples), each depending on services and the ``jobkit`` framework.

Every module in this package is imported here, found by listing the package, so a task module
cannot be forgotten: once the app is built, the consumer knows every task defined in it.
"""

import importlib
import pkgutil

TASK_MODULES = tuple(
    importlib.import_module(f"{__name__}.{info.name}")
    for info in pkgutil.iter_modules(__path__)
    if not info.name.startswith("_")
)
