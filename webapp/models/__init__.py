"""The database models, one module per area. Importing the package imports every module it
holds, so every table is registered with the metadata (for create_all and Alembic) and none can
be forgotten."""

import importlib
import pkgutil

MODEL_MODULES = tuple(
    importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
)
