"""Part writers: one module per instrument, each turning a :class:`SongPlan` into notes."""
