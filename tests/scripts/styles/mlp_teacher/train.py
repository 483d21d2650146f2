"""Tabular classifier: an MLP stem whose widths are a list, then a stack of residual blocks.

Hyperparameters are plain class attributes of `HP` (no dataclass), the layer widths are a list
(`hidden_sizes = [256, 128]`), the block stack is `nn.Sequential(*[ResBlock(...) for _ in
range(n_blocks)])`, the activation is passed around as a class (`act_layer=nn.SiLU`), the
optimizer comes from a dict of constructors, and the schedule is a LambdaLR with linear warmup.
"""
import functools
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class HP:
    # data (synthetic)
    n_samples = 6000
    n_features = 24
    n_classes = 5
    label_noise = 0.05
    # model
    hidden_sizes = [256, 128]
    n_blocks = 2
    act_layer = nn.SiLU
    p_drop = 0.1
    use_layernorm = True
    # optimisation
    optimizer = "adamw"
    lr = 1e-3
    weight_decay = 1e-4
    batch_size = 128
    epochs = 12
    warmup_steps = 40
    label_smoothing = 0.0
    clip = 1.0
    # misc
    seed = 0
    log_every = 50
    checkpoint_path = "mlp.pt"


torch.manual_seed(int(os.environ.get("ARRL_SEED", HP.seed)))


def make_dataset(n, seed):
    """Labels from a random two-layer teacher network, with some labels flipped."""
    g = torch.Generator().manual_seed(seed)
    teacher = nn.Sequential(nn.Linear(HP.n_features, 64), nn.Tanh(), nn.Linear(64, HP.n_classes))
    with torch.no_grad():
        for p in teacher.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(123 + p.numel())) * 1.5)
        x = torch.randn(n, HP.n_features, generator=g)
        y = teacher(x).argmax(-1)
    flip = torch.rand(n, generator=g) < HP.label_noise
    y[flip] = torch.randint(HP.n_classes, (int(flip.sum()),), generator=g)
    return x, y


x_train, y_train = make_dataset(HP.n_samples, seed=1)
x_val, y_val = make_dataset(2000, seed=2)


class ResBlock(nn.Module):
    def __init__(self, dim, act_layer=nn.ReLU, p_drop=0.0, use_layernorm=True):
        super().__init__()
        self.norm = nn.LayerNorm(dim) if use_layernorm else nn.Identity()
        self.fc1 = nn.Linear(dim, dim * 2)
        self.act = act_layer()
        self.drop = nn.Dropout(p_drop)
        self.fc2 = nn.Linear(dim * 2, dim)

    def forward(self, x):
        return x + self.fc2(self.drop(self.act(self.fc1(self.norm(x)))))


def make_mlp(in_features, hidden_sizes, act_layer, p_drop):
    layers = []
    for h in hidden_sizes:
        layers += [nn.Linear(in_features, h), act_layer(), nn.Dropout(p_drop)]
        in_features = h
    return nn.Sequential(*layers), in_features


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, width = make_mlp(HP.n_features, HP.hidden_sizes, HP.act_layer, HP.p_drop)
        self.blocks = nn.Sequential(*[ResBlock(width, HP.act_layer, HP.p_drop, HP.use_layernorm)
                                      for _ in range(HP.n_blocks)])
        self.head = nn.Linear(width, HP.n_classes)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


OPTIMIZERS = {
    "adamw": torch.optim.AdamW,
    "adam": torch.optim.Adam,
    "sgd": functools.partial(torch.optim.SGD, momentum=0.9, nesterov=True),
}

model = Net()
optimizer = OPTIMIZERS[HP.optimizer](model.parameters(), lr=HP.lr, weight_decay=HP.weight_decay)
steps_per_epoch = HP.n_samples // HP.batch_size
total_steps = HP.epochs * steps_per_epoch


def warmup_then_linear(step):
    if step < HP.warmup_steps:
        return (step + 1) / HP.warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - HP.warmup_steps))


scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=warmup_then_linear)


@torch.no_grad()
def evaluate():
    model.eval()
    logits = model(x_val)
    model.train()
    return F.cross_entropy(logits, y_val).item(), (logits.argmax(-1) == y_val).float().mean().item()


step = 0
t0 = time.time()
for epoch in range(HP.epochs):
    perm = torch.randperm(HP.n_samples)
    for i in range(steps_per_epoch):
        idx = perm[i * HP.batch_size:(i + 1) * HP.batch_size]
        loss = F.cross_entropy(model(x_train[idx]), y_train[idx], label_smoothing=HP.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), HP.clip)
        optimizer.step()
        scheduler.step()
        step += 1
        if step % HP.log_every == 0:
            val_loss, val_acc = evaluate()
            print(f"arrl: step={step} val_loss={val_loss:.4f} val_acc={val_acc:.4f} train_loss={loss.item():.4f}",
                  flush=True)
    print(f"epoch {epoch}: {time.time() - t0:.1f}s")

val_loss, val_acc = evaluate()
print(f"arrl: step={step} val_loss={val_loss:.4f} val_acc={val_acc:.4f}", flush=True)
