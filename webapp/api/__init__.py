"""The JSON API under /api: token or session auth, the contract's error shape."""

import importlib
import pkgutil

from webapp.api.blueprint import bp
from webapp.areas import Area

# Every module of this package adds its routes to bp: listing the package means none is forgotten.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

area = Area("api", blueprint=bp)
