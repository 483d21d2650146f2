"""The validator's checks, one module per threat they stop; :mod:`arrl.plugins.validator.registry`
lists them, with the threat, the reason and the tests of each."""
