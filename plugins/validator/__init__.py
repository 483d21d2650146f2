"""The AST validator: the plugin (``ast_validator``), its table of checks (``registry``) and the
checks themselves (``checks/``, one module per threat), the walk that asks them (``checker``),
and what they rest on: the deny- and allow-lists (``tables``), the name resolver and its view
of the workspace, constant folding and the script's scopes."""
