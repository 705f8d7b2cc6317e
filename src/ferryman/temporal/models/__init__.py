"""What crosses the Temporal boundary, by concern: ``build``, ``region`` and ``release``.

Every input, result, query answer and Update argument is a frozen pydantic
model, so histories stay readable and replays deterministic.
"""
