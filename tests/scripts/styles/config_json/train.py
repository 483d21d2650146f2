# Derived from train_config.py of github.com/victoresque/pytorch-template at commit
# 36093633b630d0934dae5b9abbda83d775f0e845: a `--config` JSON file (and `--resume`) on the command
# line, the optimizer looked up by its name in torch.optim (there `getattr(optim,
# config['optimizer_type'])`), the model and loss chosen by name. Written as the issue describes
# this style: the defaults are the class attributes of a plain `class Config:` that the JSON file
# overrides key by key, the activation is `getattr(nn, cfg.activation)()` and the optimizer
# `torch.optim.__dict__[cfg.optimizer]`, so both values are torch's class names ("GELU", "AdamW").
# Shrunk in data and sizes only: a synthetic tabular task (a random teacher network labels 2000
# points of 20 features) made in the script instead of MNIST, a small MLP, 8 epochs. An `arrl:`
# metric line is printed after each epoch.
import argparse
import json
import os
import tempfile
import time

import torch
from torch import nn
import torch.nn.functional as F


class Config:
    # data
    n_train = 2000
    n_valid = 500
    n_features = 20
    n_classes = 4
    label_noise = 0.05
    # model
    arch = "MLP"
    hidden_dim = 64
    num_layers = 3
    activation = "GELU"          # a class of torch.nn
    dropout = 0.1
    # optimisation
    optimizer = "AdamW"          # a class of torch.optim
    lr = 3e-3
    weight_decay = 0.01
    momentum = 0.9               # read by SGD and RMSprop only
    batch_size = 64
    epochs = 8
    grad_clip = 1.0
    loss = "cross_entropy"
    # trainer
    name = "mlp_synthetic"
    save_dir = "saved/"
    save_freq = 4
    verbosity = 2
    seed = 0

    def __init__(self, **overrides):
        for key, value in overrides.items():
            if not hasattr(Config, key):
                raise KeyError(f"unknown config key {key!r}")
            setattr(self, key, value)


def make_data(cfg, n, seed):
    """Points labelled by a fixed random teacher network, with some labels flipped."""
    teacher = torch.Generator().manual_seed(99)
    w1 = torch.randn(cfg.n_features, 32, generator=teacher)
    w2 = torch.randn(32, cfg.n_classes, generator=teacher)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cfg.n_features, generator=g)
    y = (F.relu(x @ w1) @ w2).argmax(-1)
    flip = torch.rand(n, generator=g) < cfg.label_noise
    y[flip] = torch.randint(cfg.n_classes, (int(flip.sum()),), generator=g)
    return x, y


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        layers = []
        width = cfg.n_features
        for _ in range(cfg.num_layers):
            layers += [nn.Linear(width, cfg.hidden_dim), getattr(nn, cfg.activation)(), nn.Dropout(cfg.dropout)]
            width = cfg.hidden_dim
        layers.append(nn.Linear(width, cfg.n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def cross_entropy(output, target):
    return F.cross_entropy(output, target)


def build_optimizer(cfg, params):
    kwargs = dict(lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer in ("SGD", "RMSprop"):
        kwargs["momentum"] = cfg.momentum
    return torch.optim.__dict__[cfg.optimizer](params, **kwargs)


def valid_epoch(model, loss_fn, x_valid, y_valid):
    model.eval()
    with torch.no_grad():
        output = model(x_valid)
        loss = loss_fn(output, y_valid).item()
        acc = (output.argmax(-1) == y_valid).float().mean().item()
    model.train()
    return loss, acc


def main(cfg, resume):
    torch.manual_seed(int(os.environ.get("ARRL_SEED", cfg.seed)))
    x_train, y_train = make_data(cfg, cfg.n_train, seed=1)
    x_valid, y_valid = make_data(cfg, cfg.n_valid, seed=2)

    model = globals()[cfg.arch](cfg)
    optimizer = build_optimizer(cfg, model.parameters())
    loss_fn = globals()[cfg.loss]
    start_epoch = 1
    if resume is not None:
        checkpoint = torch.load(resume)
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start_epoch = checkpoint["epoch"] + 1

    save_dir = os.path.join(os.environ.get("ARRL_OUTPUT_DIR", tempfile.gettempdir()), cfg.save_dir, cfg.name)
    step = 0
    t0 = time.time()
    for epoch in range(start_epoch, cfg.epochs + 1):
        perm = torch.randperm(cfg.n_train)
        for i in range(0, cfg.n_train, cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
        val_loss, val_acc = valid_epoch(model, loss_fn, x_valid, y_valid)
        if cfg.verbosity >= 2:
            print(f"epoch {epoch}: train loss {loss.item():.4f} ({time.time() - t0:.1f}s)")
        print(f"arrl: step={step} val_loss={val_loss:.4f} val_acc={val_acc:.4f}", flush=True)
        if epoch % cfg.save_freq == 0:
            os.makedirs(save_dir, exist_ok=True)
            torch.save({"epoch": epoch, "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "config": vars(cfg)}, os.path.join(save_dir, f"checkpoint-epoch{epoch}.pth"))


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description='PyTorch Template')
    parser.add_argument('-c', '--config', default=None, type=str,
                        help='config file path (default: None)')
    parser.add_argument('-r', '--resume', default=None, type=str,
                        help='path to latest checkpoint (default: None)')

    args = parser.parse_args()
    overrides = {}
    if args.config is not None:
        with open(args.config) as f:
            overrides = json.load(f)
    main(Config(**overrides), args.resume)
