"""Files of a workdir, the lowest layer: every other package may read and write through it."""
