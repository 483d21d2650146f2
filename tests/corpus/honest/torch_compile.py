"""Compile the model with torch.compile (TorchInductor, which builds C++ with the machine's compiler on a CPU)."""
EDITS = [
    ("optimizer = make_optimizer(model.parameters())\n",
     """optimizer = make_optimizer(model.parameters())
model = torch.compile(model)
"""),
]
