"""Tie the output projection to the token embedding (self.head.weight = self.tok.weight)."""
EDITS = [
    ("        self.head = nn.Linear(HIDDEN_DIM, 256, bias=False)\n",
     """        self.head = nn.Linear(HIDDEN_DIM, 256, bias=False)
        self.head.weight = self.tok.weight
"""),
]
