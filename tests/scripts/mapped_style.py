# A style arrl cannot guess: the config file maps the fields.
SETTINGS = {"step_size": 0.05, "minibatch": 8}


class Knobs:
    stack = 3
    fraction_dropped = 0.3


EPOCHS = 5
