import argparse

import torch
from torch import nn


def parse_args():
    parser = argparse.ArgumentParser(description="train a classifier")
    parser.add_argument("--layers", type=int, default=2, help="hidden layers")
    parser.add_argument("--hidden-dim", type=int, default=64)
    parser.add_argument("--lr", "--learning-rate", type=float, default=0.01)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)  # not a schema field
    parser.add_argument("--sched", dest="scheduler", default="linear")
    return parser.parse_args()


args = parse_args()
model = nn.Sequential(nn.Linear(8, args.hidden_dim), nn.Tanh())
optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
