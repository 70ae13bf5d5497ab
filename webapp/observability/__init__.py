"""What monitoring reads: ``/metrics`` (Prometheus) and ``/healthz``."""

from webapp.areas import Area
from webapp.observability.routes import bp

area = Area("observability", blueprint=bp)
