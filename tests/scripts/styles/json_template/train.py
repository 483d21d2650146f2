# Derived from train.py, parse_config.py (ConfigParser.init_obj), model/model.py, model/loss.py and
# config.json of github.com/victoresque/pytorch-template at commit
# 36093633b630d0934dae5b9abbda83d775f0e845: every knob in config.json, each object built by
# `config.init_obj(name, module, ...)` from its "type" and "args". Shrunk in data and sizes only:
# a synthetic 10-class task on 8x8 "images" (a random teacher network labels them) instead of MNIST,
# the model's widths taken from "args" (there fixed in MnistModel), 6 epochs instead of 100. The
# ConfigParser is cut to what training uses (no run folders, no logging setup); `-c` defaults to
# config.json next to the script (there it has no default). An `arrl:` metric line is printed after
# each validation.
import argparse
import json
import os
from functools import reduce
from operator import getitem
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConfigParser:
    def __init__(self, config):
        self._config = config

    @classmethod
    def from_args(cls, args):
        args = args.parse_args()
        cfg_fname = Path(__file__).parent / args.config
        with open(cfg_fname) as handle:
            config = json.load(handle)
        return cls(config)

    def init_obj(self, name, module, *args, **kwargs):
        """Finds a function handle with the name given as 'type' in config, and returns the
        instance initialized with corresponding arguments given."""
        module_name = self[name]['type']
        module_args = dict(self[name]['args'])
        assert all([k not in module_args for k in kwargs]), 'Overwriting kwargs given in config file is not allowed'
        module_args.update(kwargs)
        return getattr(module, module_name)(*args, **module_args)

    def __getitem__(self, name):
        return self._config[name]


def get_by_path(tree, keys):
    """Access a nested object in tree by sequence of keys."""
    return reduce(getitem, keys, tree)


class SyntheticDataLoader:
    """Batches of synthetic 8x8 images labelled by a fixed random teacher network."""

    def __init__(self, n_samples, batch_size, shuffle=True, validation_split=0.0, num_workers=1):
        teacher = torch.Generator().manual_seed(7)
        w1, w2 = torch.randn(64, 32, generator=teacher), torch.randn(32, 10, generator=teacher)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(n_samples, 1, 8, 8, generator=g)
        y = (torch.tanh(x.flatten(1) @ w1) @ w2).argmax(-1)
        n_valid = int(n_samples * validation_split)
        self.train = torch.utils.data.TensorDataset(x[n_valid:], y[n_valid:])
        self.valid = torch.utils.data.TensorDataset(x[:n_valid], y[:n_valid])
        self.batch_size, self.shuffle, self.num_workers = batch_size, shuffle, num_workers

    def __iter__(self):
        loader = torch.utils.data.DataLoader(self.train, batch_size=self.batch_size, shuffle=self.shuffle,
                                             num_workers=self.num_workers)
        return iter(loader)

    def split_validation(self):
        return torch.utils.data.DataLoader(self.valid, batch_size=self.batch_size)


class MnistModel(nn.Module):
    def __init__(self, num_classes=10, hidden=50, dropout=0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=3)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=3)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(80, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = dropout

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 80)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def nll_loss(output, target):
    return F.nll_loss(output, target)


def main(config):
    torch.manual_seed(int(os.environ.get("ARRL_SEED", "123")))
    data_loader = config.init_obj('data_loader', __import__(__name__))
    valid_data_loader = data_loader.split_validation()
    model = config.init_obj('arch', __import__(__name__))
    criterion = globals()[config['loss']]
    trainable_params = filter(lambda p: p.requires_grad, model.parameters())
    optimizer = config.init_obj('optimizer', torch.optim, trainable_params)
    lr_scheduler = config.init_obj('lr_scheduler', torch.optim.lr_scheduler, optimizer)

    step = 0
    for epoch in range(1, config['trainer']['epochs'] + 1):
        model.train()
        for data, target in data_loader:
            optimizer.zero_grad()
            loss = criterion(model(data), target)
            loss.backward()
            optimizer.step()
            step += 1
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for data, target in valid_data_loader:
                total += criterion(model(data), target).item() * len(target)
                count += len(target)
        print(f"arrl: step={step} val_loss={total / count:.4f}", flush=True)
        lr_scheduler.step()


if __name__ == '__main__':
    args = argparse.ArgumentParser(description='PyTorch Template')
    args.add_argument('-c', '--config', default='config.json', type=str,
                      help='config file path (default: config.json)')
    args.add_argument('-r', '--resume', default=None, type=str,
                      help='path to latest checkpoint (default: None)')
    args.add_argument('-d', '--device', default=None, type=str,
                      help='indices of GPUs to enable (default: all)')
    config = ConfigParser.from_args(args)
    main(config)
