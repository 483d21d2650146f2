# Derived from torchtitan/train.py, torchtitan/config/manager.py (ConfigManager: a TOML job file
# given by --job.config_file, read with tomllib), torchtitan/components/lr_scheduler.py (linear
# warmup, then a linear decay over decay_ratio of the steps) and
# torchtitan/models/llama3/train_configs/debug_model.toml of github.com/pytorch/torchtitan at commit
# 026cb7ea3bc4d7fcc45d7d9379757f45d038c82a. Shrunk in data and sizes only: a synthetic Markov-chain
# corpus made in the script instead of c4_test, a 2-layer decoder of width 64 for the debug flavor,
# seq_len 32 and 60 steps; no parallelism, checkpointing, profiling or float8 sections. An `arrl:`
# metric line is printed at each validation.
import argparse
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class TransformerModelArgs:
    dim: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    vocab_size: int = 64
    multiple_of: int = 256
    max_seq_len: int = 131072


llama3_args = {
    "debugmodel": TransformerModelArgs(dim=64, n_layers=2, n_heads=4, vocab_size=64, multiple_of=32, max_seq_len=64),
}


class Block(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.attention_norm = nn.RMSNorm(args.dim)
        self.attention = nn.MultiheadAttention(args.dim, args.n_heads, batch_first=True)
        hidden = args.multiple_of * ((int(8 * args.dim / 3) + args.multiple_of - 1) // args.multiple_of)
        self.ffn_norm = nn.RMSNorm(args.dim)
        self.w1, self.w3 = nn.Linear(args.dim, hidden, bias=False), nn.Linear(args.dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, args.dim, bias=False)

    def forward(self, x, mask):
        h = self.attention_norm(x)
        x = x + self.attention(h, h, h, attn_mask=mask, need_weights=False)[0]
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Transformer(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.pos = nn.Parameter(torch.zeros(args.max_seq_len, args.dim))
        self.layers = nn.ModuleList(Block(args) for _ in range(args.n_layers))
        self.norm = nn.RMSNorm(args.dim)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)

    def forward(self, tokens):
        n = tokens.shape[1]
        mask = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        h = self.tok_embeddings(tokens) + self.pos[:n]
        for layer in self.layers:
            h = layer(h, mask)
        return self.output(self.norm(h))


def markov_corpus(vocab_size, n_tokens, seed):
    """Tokens of a fixed random Markov chain: the task, and the same for every experiment."""
    transitions = torch.softmax(3 * torch.randn(vocab_size, vocab_size, generator=torch.Generator().manual_seed(0)), -1)
    cumulative = transitions.cumsum(-1)
    draws = torch.rand(n_tokens, generator=torch.Generator().manual_seed(seed))
    tokens = [0]
    for u in draws[1:].tolist():
        row = cumulative[tokens[-1]]
        tokens.append(min(int(torch.searchsorted(row, torch.tensor(u))), vocab_size - 1))
    return torch.tensor(tokens)


def batches(tokens, batch_size, seq_len, g):
    while True:
        starts = torch.randint(len(tokens) - seq_len - 1, (batch_size,), generator=g)
        x = torch.stack([tokens[s:s + seq_len] for s in starts])
        y = torch.stack([tokens[s + 1:s + seq_len + 1] for s in starts])
        yield x, y


def linear_warmup_decay(warmup_steps, decay_steps, steps, min_lr_factor):
    """The factor on the lr at each step: linear warmup, flat, then a linear decay."""
    def factor(step):
        step += 1
        if step <= warmup_steps:
            return step / (warmup_steps + 1)
        if step < steps - decay_steps:
            return 1.0
        progress = (step - (steps - decay_steps)) / decay_steps
        return min_lr_factor + (1 - min_lr_factor) * (1 - progress)
    return factor


def main(job):
    torch.manual_seed(int(os.environ.get("ARRL_SEED", "0")))
    model_args = llama3_args[job["model"]["flavor"]]
    model = Transformer(model_args)
    training, opt, sched = job["training"], job["optimizer"], job["lr_scheduler"]
    optimizer = getattr(torch.optim, opt["name"])(model.parameters(), lr=opt["lr"], eps=opt["eps"],
                                                  weight_decay=opt["weight_decay"])
    decay_steps = math.ceil(training["steps"] * sched["decay_ratio"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup_decay(
        sched["warmup_steps"], decay_steps, training["steps"], sched["min_lr_factor"]))
    train_tokens = markov_corpus(model_args.vocab_size, 20_000, seed=1)
    valid_tokens = markov_corpus(model_args.vocab_size, 4_000, seed=2)
    data = batches(train_tokens, training["local_batch_size"], training["seq_len"], torch.Generator().manual_seed(3))
    validation = job["validation"]
    for step in range(1, training["steps"] + 1):
        x, y = next(data)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), training["max_norm"])
        optimizer.step()
        scheduler.step()
        if validation["enabled"] and step % validation["freq"] == 0:
            model.eval()
            held_out = batches(valid_tokens, training["local_batch_size"], training["seq_len"],
                               torch.Generator().manual_seed(4))
            with torch.no_grad():
                losses = [F.cross_entropy(model(vx).flatten(0, 1), vy.flatten()).item()
                          for vx, vy in (next(held_out) for _ in range(validation["steps"]))]
            model.train()
            print(f"arrl: step={step} val_loss={sum(losses) / len(losses):.4f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="torchtitan")
    parser.add_argument("--job.config_file", type=str, default="train_configs/debug_model.toml",
                        help="Job config file")
    args = parser.parse_args()
    with open(Path(__file__).parent / getattr(args, "job.config_file"), "rb") as f:
        main(tomllib.load(f))
