"""The run: the experiment loop, its worker pool and assembly, supervision of a running experiment,
early stopping, the noise floor, events and the live display."""
