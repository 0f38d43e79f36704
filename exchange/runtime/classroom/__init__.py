"""The classroom: a trading game on the live exchange, with pages for students, the projector and the
teacher (docs/classroom.md)."""
