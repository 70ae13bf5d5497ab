"""Jobdeck: a job operations console for Flask and Huey. ``webapp.app.create_app`` builds it.

The package itself imports nothing, so that the job framework (``jobkit``) can use the models
and extensions without building the app.
"""


def __getattr__(name: str):
    # `from webapp import create_app` keeps working for scripts, without importing the app's
    # areas whenever a submodule such as webapp.models is imported.
    if name == "create_app":
        from webapp.app import create_app

        return create_app
    raise AttributeError(f"module 'webapp' has no attribute {name!r}")
