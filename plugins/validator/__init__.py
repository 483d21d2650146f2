"""The AST validator: the checks (``ast_validator``), the name resolver, constant folding and the
script's scopes they rest on."""
