"""``make demo``: ferryman's seven levels, end to end, on one machine, in a few minutes.

The story (``story.py``), one chapter per module:

1. ``build_step``: levels 0 and 2 — the shop's four repos built as a DAG for two
   platforms, each node's steps, logs, cached artifacts and signed provenance;
2. ``first_deploy``: levels 1, 4 and 6 — the first release to production, held at
   its approval gate (``gate``) until the demo approver approves, then three
   regions × three zones in waves; the users' traffic starts (``traffic``);
3. ``rollout``: levels 3, 5, 6 and 7 — a good change, catalog blue-green and
   checkout as a canary, region after region under traffic;
4. ``rollback``: levels 6 and 7 — a bad change caught by the canary in the second
   wave and rolled back world-wide by the saga;

then what the world serves, and the summary table (``summary``) with the
numbers measured from ground truth (``measure``, ``findings``). ``main`` sets up
the demo's own state home and dev stack (``stack``) and stops it whatever
happens; ``options`` reads the ``DEMO_*`` variables.

``prepare_example`` (``workspace``) is also what the tests use to copy an example.
"""

from ferryman.demo.workspace import prepare_example

__all__ = ["prepare_example"]
