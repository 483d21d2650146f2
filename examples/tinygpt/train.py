"""Train a tiny byte-level GPT on corpus.txt and report validation bits per byte.

Runs on the CPU in well under a minute; uses CUDA when there is a GPU. Training is a fixed
number of steps, and arrl's budget is only the cap: on a busy machine the same edit gets the same
steps and the same result, just later. (karpathy/autoresearch budgets training in wall-clock
seconds instead, so a bigger model trains for fewer steps; on a shared machine the load then
decides how many steps a run gets: 12 in one run of this baseline and 47 in another.)
"""

import math
import os
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- model -------------------------------------------------------------------------------
NUM_LAYERS = 2
HIDDEN_DIM = 64
ATTENTION_HEADS = 4
ACTIVATION = "gelu"
DROPOUT = 0.0

# ---- optimisation ------------------------------------------------------------------------
OPTIMIZER = "adamw"
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 0.01
SCHEDULER = "warmup_cosine"
BATCH_SIZE = 32
GRAD_CLIP = 1.0
MIXED_PRECISION = False

# ---- run ---------------------------------------------------------------------------------
BLOCK_SIZE = 64
TRAIN_STEPS = 300
EVAL_EVERY_STEPS = 20
EVAL_BATCHES = 4
SEED = int(os.environ.get("ARRL_SEED", "0"))

torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"
data = torch.frombuffer(bytearray(Path(__file__).with_name("corpus.txt").read_bytes()), dtype=torch.uint8).long()
split = int(0.9 * len(data))
train_data, val_data = data[:split], data[split:]


def get_batch(source, generator):
    starts = torch.randint(len(source) - BLOCK_SIZE - 1, (BATCH_SIZE,), generator=generator)
    x = torch.stack([source[s : s + BLOCK_SIZE] for s in starts])
    y = torch.stack([source[s + 1 : s + BLOCK_SIZE + 1] for s in starts])
    return x.to(device), y.to(device)


ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(HIDDEN_DIM)
        self.attn = nn.MultiheadAttention(HIDDEN_DIM, ATTENTION_HEADS, dropout=DROPOUT, batch_first=True)
        self.ln2 = nn.LayerNorm(HIDDEN_DIM)
        self.mlp = nn.Sequential(
            nn.Linear(HIDDEN_DIM, 4 * HIDDEN_DIM),
            ACTIVATIONS[ACTIVATION](),
            nn.Linear(4 * HIDDEN_DIM, HIDDEN_DIM),
            nn.Dropout(DROPOUT),
        )

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(256, HIDDEN_DIM)
        self.pos = nn.Embedding(BLOCK_SIZE, HIDDEN_DIM)
        self.blocks = nn.ModuleList(Block() for _ in range(NUM_LAYERS))
        self.ln = nn.LayerNorm(HIDDEN_DIM)
        self.head = nn.Linear(HIDDEN_DIM, 256, bias=False)
        mask = torch.triu(torch.ones(BLOCK_SIZE, BLOCK_SIZE, dtype=torch.bool), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        for block in self.blocks:
            x = block(x, self.mask[:t, :t])
        return self.head(self.ln(x))


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al., 2023): the sign of an interpolated momentum, decoupled weight decay."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                exp_avg = state["exp_avg"]
                p.mul_(1 - group["lr"] * group["weight_decay"])
                update = exp_avg.mul(beta1).add(p.grad, alpha=1 - beta1).sign_()
                p.add_(update, alpha=-group["lr"])
                exp_avg.mul_(beta2).add_(p.grad, alpha=1 - beta2)


def make_optimizer(params):
    if OPTIMIZER == "adam":
        return torch.optim.Adam(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    if OPTIMIZER == "adamw":
        return torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    if OPTIMIZER == "sgd":
        return torch.optim.SGD(params, lr=LEARNING_RATE, momentum=0.9, weight_decay=WEIGHT_DECAY)
    if OPTIMIZER == "lion":
        return Lion(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    raise ValueError(f"unknown optimizer {OPTIMIZER}")


def lr_factor(progress):
    """Learning-rate multiplier at a fraction of the training steps."""
    if SCHEDULER == "constant":
        return 1.0
    if SCHEDULER == "linear":
        return max(0.0, 1.0 - progress)
    if SCHEDULER == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    if SCHEDULER == "warmup_cosine":
        warmup = 0.1
        if progress < warmup:
            return progress / warmup
        return 0.5 * (1 + math.cos(math.pi * min((progress - warmup) / (1 - warmup), 1.0)))
    raise ValueError(f"unknown scheduler {SCHEDULER}")


def autocast():
    dtype = torch.bfloat16 if device == "cpu" or torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type=device, dtype=dtype, enabled=MIXED_PRECISION)


@torch.no_grad()
def evaluate(model, batches):
    model.eval()
    generator = torch.Generator().manual_seed(1234)  # the same validation bytes every time
    total = 0.0
    for _ in range(batches):
        x, y = get_batch(val_data, generator)
        with autocast():
            logits = model(x)
        total += F.cross_entropy(logits.float().view(-1, 256), y.view(-1)).item()
    model.train()
    return total / batches / math.log(2)  # nats per byte -> bits per byte


model = TinyGPT().to(device)
optimizer = make_optimizer(model.parameters())
generator = torch.Generator().manual_seed(SEED)
print(f"parameters: {sum(p.numel() for p in model.parameters())}, device: {device}")

start = time.time()
for step in range(1, TRAIN_STEPS + 1):
    progress = (step - 1) / TRAIN_STEPS
    for group in optimizer.param_groups:
        group["lr"] = LEARNING_RATE * lr_factor(progress)
    x, y = get_batch(train_data, generator)
    with autocast():
        logits = model(x)
    loss = F.cross_entropy(logits.float().view(-1, 256), y.view(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
    optimizer.step()
    if not math.isfinite(loss.item()):
        print(f"arrl: step={step} val_bpb={loss.item()}")
        raise SystemExit("training diverged")
    if step % EVAL_EVERY_STEPS == 0 and step < TRAIN_STEPS:
        print(f"arrl: step={step} val_bpb={evaluate(model, EVAL_BATCHES):.4f} train_loss={loss.item():.4f}")

final = evaluate(model, 4 * EVAL_BATCHES)
print(f"arrl: step={TRAIN_STEPS} val_bpb={final:.4f}")
print(f"trained {TRAIN_STEPS} steps in {time.time() - start:.1f} s")
