from dataclasses import dataclass, field

import torch
import torch.nn as nn


@dataclass
class TrainConfig:
    num_layers: int = 6
    hidden_size: int = 512
    num_heads: int = 8
    dropout_rate: float = field(default=0.1)
    learning_rate: float = 3e-4
    batch_size: int = 128
    max_grad_norm: float = 1.0
    mixed_precision: bool = True  # bf16 on CPU


def main(cfg: TrainConfig = TrainConfig()):
    model = nn.Sequential(nn.Linear(cfg.hidden_size, cfg.hidden_size), nn.SiLU(inplace=True))
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.learning_rate, momentum=0.9, nesterov=True)
    return model, optimizer
