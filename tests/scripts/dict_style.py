import torch
import torch.nn as nn

CONFIG = {
    "model": {"depth": 3, "width": 256, "heads": 8, "dropout": 0.2},
    "optim": {"name": "adam", "lr": 1e-3, "wd": 0.0},
    "train": {"batch_size": 64, "clip": 0.5, "amp": False},  # tuned on one GPU
}

model = nn.Sequential(nn.Linear(10, CONFIG["model"]["width"]), nn.ReLU())
optimizer = torch.optim.Adam(model.parameters(), lr=CONFIG["optim"]["lr"])
