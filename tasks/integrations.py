"""Integration updates: a check twice a minute, and one processing job per due integration."""

from huey import crontab

from jobkit import locks
from jobkit.context import JobCancelled, PermanentError, app_context, current_job
from jobkit.dispatch import Call
from jobkit.policy import OUTSIDE_SERVICE
from jobkit.reserved import periodic_task
from jobkit.tracking import CONSUMER_ID, tracked_task
from webapp.services import integrations as service

PROCESS_TIMEOUT_SECONDS = 300


@tracked_task(
    queue="default",
    retry_delays=OUTSIDE_SERVICE,
    timeout=PROCESS_TIMEOUT_SECONDS,
    on_failure=service.record_failure,
    unique_key=lambda integration_id: integration_id,
    rerun_if_lost=True,
    tags=("integration",),
)
def process_integration_data(integration_id: int) -> str:
    """ProcessIntegrationData: fetch one integration's data (5-minute timeout, checked between
    requests; retried unless the error is permanent)."""
    job = current_job()
    job.link("integration", integration_id)
    try:
        return service.process(integration_id, checkpoint=job.report)
    except service.IntegrationError as exc:
        raise PermanentError(str(exc)) from exc
    except JobCancelled:
        service.record_failure(integration_id, error=f"its job #{job.id} was cancelled")
        raise


def dispatch_due(service_name: str | None = None, force: bool = False) -> list[int]:
    """Trigger the due integrations and dispatch one processing job for each."""
    ids = service.trigger_due(service_name, force)
    job_ids = []
    # each job belongs to the integration's owner, who alone (and admins) may read it
    for owner, owned_ids in service.owners_of(ids).items():
        calls = [Call((i,), source=("integration", i)) for i in owned_ids]
        job_ids += process_integration_data.dispatch_many(calls, user_id=owner)
    return job_ids


@tracked_task(queue="high", tags=("system",))
def check_integration_updates() -> str:
    """CheckIntegrationUpdates: dispatch every due integration that is not already processing."""
    return f"Dispatched {len(dispatch_due())} integration updates."


@periodic_task(crontab(minute="*"))
def integration_updates_tick() -> None:
    """Huey checks periodic tasks once a minute: check now and again in 30 seconds."""
    with app_context():
        if locks.first_this_minute("integration_updates", CONSUMER_ID):
            check_integration_updates.dispatch()
            check_integration_updates.dispatch(delay=30)
