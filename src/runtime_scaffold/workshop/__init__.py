"""`scaffold workshop`: the custom-runtime talk as a series of runnable projects a facilitator hands out.

Each step is rendered from the same templates as ``scaffold new`` plus a small overlay
(``cookiecutters/_workshop/steps/<NN-name>/``); ``steps.py`` says what each step is, ``build.py`` writes them,
``changes.py`` computes what changed from one step to the next.
"""

from runtime_scaffold.workshop.build import Workshop, build_workshop, select_steps
from runtime_scaffold.workshop.steps import STEPS, WALKTHROUGH_BUGS, Bug, Step, parse_steps

__all__ = ["STEPS", "WALKTHROUGH_BUGS", "Bug", "Step", "Workshop", "build_workshop", "parse_steps", "select_steps"]
