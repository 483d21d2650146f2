"""Character-level LM on a synthetic grammar; every hyperparameter is a keyword default of
`main()`, exposed on the command line by a tiny `--key=value` parser (the fire / jsonargparse
CLI(main) pattern without the dependency).

Four parameter groups each get their own learning rate (embeddings, matrices, head, scalars),
the MLP uses relu squared, and the schedule is a LambdaLR warmup + cosine.
"""
import inspect
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def make_corpus(n_chars: int, seed: int) -> torch.Tensor:
    """Words from a tiny random grammar: subject verb object, separated by spaces and dots."""
    g = torch.Generator().manual_seed(seed)
    subjects = ["the cat", "a dog", "my friend", "the old man", "she", "we"]
    verbs = ["sees", "likes", "eats", "finds", "wants", "makes"]
    objects = ["the ball", "an apple", "a red car", "the music", "some bread", "it"]
    parts = []
    total = 0
    while total < n_chars:
        s = subjects[torch.randint(len(subjects), (1,), generator=g).item()]
        v = verbs[torch.randint(len(verbs), (1,), generator=g).item()]
        o = objects[torch.randint(len(objects), (1,), generator=g).item()]
        sentence = f"{s} {v} {o}. "
        parts.append(sentence)
        total += len(sentence)
    text = "".join(parts)[:n_chars]
    return torch.tensor([ord(c) - 32 for c in text], dtype=torch.long)  # printable ASCII -> 0..94


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=False)
        self.proj = nn.Linear(n_embd, n_embd, bias=False)
        self.fc = nn.Linear(n_embd, 4 * n_embd, bias=False)
        self.fc_out = nn.Linear(4 * n_embd, n_embd, bias=False)
        self.attn_scale = nn.Parameter(torch.ones(1))
        self.mlp_scale = nn.Parameter(torch.ones(1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        h = F.rms_norm(x, (C,))
        q, k, v = self.qkv(h).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn_scale * self.dropout(self.proj(y))
        h = F.rms_norm(x, (C,))
        x = x + self.mlp_scale * self.dropout(self.fc_out(F.relu(self.fc(h)).square()))
        return x


class CharLM(nn.Module):
    def __init__(self, vocab: int, block_size: int, n_layer: int, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(F.rms_norm(x, (x.size(-1),)))


def main(
    # model
    n_layer: int = 2,
    n_embd: int = 96,
    n_head: int = 4,
    dropout: float = 0.0,
    block_size: int = 32,
    # optimisation: one learning rate per parameter group
    embed_lr: float = 6e-4,
    matrix_lr: float = 1e-3,
    head_lr: float = 3e-4,
    scalar_lr: float = 0.02,
    weight_decay: float = 0.0,
    adam_betas: tuple = (0.8, 0.95),
    batch_size: int = 16,
    grad_clip: float = 1.0,
    warmup_frac: float = 0.05,
    max_iters: int = 250,
    # bookkeeping
    eval_interval: int = 25,
    seed: int = 1234,
    corpus_chars: int = 100_000,
    compile: bool = False,
    out_dir: str = "out",
):
    torch.manual_seed(int(os.environ.get("ARRL_SEED", seed)))
    data = make_corpus(corpus_chars, seed=0)
    n = int(0.9 * len(data))
    train_data, val_data = data[:n], data[n:]

    def get_batch(split):
        d = train_data if split == "train" else val_data
        ix = torch.randint(len(d) - block_size - 1, (batch_size,))
        x = torch.stack([d[i:i + block_size] for i in ix])
        y = torch.stack([d[i + 1:i + block_size + 1] for i in ix])
        return x, y

    model = CharLM(95, block_size, n_layer, n_embd, n_head, dropout)
    if compile:
        model = torch.compile(model)

    embed_params = [model.wte.weight, model.wpe.weight]
    head_params = [model.lm_head.weight]
    scalar_params = [p for p in model.parameters() if p.ndim < 2]
    matrix_params = [p for name, p in model.named_parameters()
                     if p.ndim == 2 and "blocks" in name]
    param_groups = [
        dict(params=embed_params, lr=embed_lr),
        dict(params=matrix_params, lr=matrix_lr, weight_decay=weight_decay),
        dict(params=head_params, lr=head_lr),
        dict(params=scalar_params, lr=scalar_lr),
    ]
    optimizer = torch.optim.Adam(param_groups, betas=adam_betas, eps=1e-10)

    warmup_iters = max(1, int(warmup_frac * max_iters))

    def lr_lambda(it):
        if it < warmup_iters:
            return (it + 1) / warmup_iters
        progress = (it - warmup_iters) / max(1, max_iters - warmup_iters)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)

    @torch.no_grad()
    def estimate_loss(iters=5):
        model.eval()
        losses = []
        for _ in range(iters):
            x, y = get_batch("val")
            losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item())
        model.train()
        return sum(losses) / len(losses)

    t0 = time.time()
    for it in range(1, max_iters + 1):
        x, y = get_batch("train")
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0.0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        scheduler.step()
        if it % eval_interval == 0 or it == max_iters:
            val_loss = estimate_loss()
            print(f"iter {it}: loss {loss.item():.4f}, val {val_loss:.4f}, {time.time() - t0:.1f}s")
            print(f"arrl: step={it} val_loss={val_loss:.4f}", flush=True)


def cli(fn):
    """`python train.py --n_layer=4 --matrix_lr=2e-3`: each flag overrides one keyword default."""
    params = inspect.signature(fn).parameters
    kwargs = {}
    for arg in sys.argv[1:]:
        key, _, value = arg.lstrip("-").partition("=")
        default = params[key].default
        kwargs[key] = type(default)(eval(value)) if not isinstance(default, str) else value
    return fn(**kwargs)


if __name__ == "__main__":
    cli(main)
