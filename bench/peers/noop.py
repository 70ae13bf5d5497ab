"""RQ's no-op job, in a module that imports nothing else: a forking RQ worker's work horse
imports the job's module afresh for every job."""


def noop() -> None:
    """Do nothing."""
