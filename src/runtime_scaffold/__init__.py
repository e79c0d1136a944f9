"""runtime-scaffold: AWS Lambda custom runtimes, generated, run locally and checked."""

__version__ = "0.1.0"
