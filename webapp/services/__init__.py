"""The domain: plain functions taking plain arguments, used by routes, commands and tasks."""
