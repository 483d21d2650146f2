"""The reference's utils.py, one process: metric logging, top-k accuracy, EMA of the weights,
and the distributed helpers reduced to what a single process needs."""
import os
import time
from collections import defaultdict, deque

import torch


class SmoothedValue:
    def __init__(self, window_size=20, fmt="{median:.4f} ({global_avg:.4f})"):
        self.deque, self.total, self.count, self.fmt = deque(maxlen=window_size), 0.0, 0, fmt

    def update(self, value, n=1):
        self.deque.append(value)
        self.count += n
        self.total += value * n

    @property
    def global_avg(self):
        return self.total / max(self.count, 1)

    @property
    def value(self):
        return self.deque[-1]

    def __str__(self):
        median = sorted(self.deque)[len(self.deque) // 2] if self.deque else 0.0
        return self.fmt.format(median=median, global_avg=self.global_avg, value=self.deque[-1] if self.deque else 0.0)


class MetricLogger:
    def __init__(self, delimiter="\t"):
        self.meters, self.delimiter = defaultdict(SmoothedValue), delimiter

    def update(self, **kwargs):
        for k, v in kwargs.items():
            self.meters[k].update(v.item() if isinstance(v, torch.Tensor) else v)

    def __getattr__(self, attr):
        if attr in self.__dict__.get("meters", {}):
            return self.meters[attr]
        raise AttributeError(attr)

    def add_meter(self, name, meter):
        self.meters[name] = meter

    def synchronize_between_processes(self):
        pass

    def log_every(self, iterable, print_freq, header=""):
        start = time.time()
        for i, obj in enumerate(iterable):
            yield obj
            if i % print_freq == 0 or i == len(iterable) - 1:
                meters = self.delimiter.join(f"{name}: {meter}" for name, meter in self.meters.items())
                print(f"{header} [{i}/{len(iterable)}] {meters} time: {time.time() - start:.1f}s")


class ExponentialMovingAverage(torch.optim.swa_utils.AveragedModel):
    def __init__(self, model, decay, device="cpu"):
        def ema_avg(avg_model_param, model_param, num_averaged):
            return decay * avg_model_param + (1 - decay) * model_param

        super().__init__(model, device, ema_avg, use_buffers=True)


def accuracy(output, target, topk=(1,)):
    with torch.inference_mode():
        maxk = max(topk)
        batch_size = target.size(0)
        if target.ndim == 2:
            target = target.max(dim=1)[1]
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target[None])
        return [correct[:k].flatten().sum(dtype=torch.float32) * (100.0 / batch_size) for k in topk]


def mkdir(path):
    os.makedirs(path, exist_ok=True)


def init_distributed_mode(args):
    args.distributed = False
    args.gpu = None


def save_on_master(*args, **kwargs):
    torch.save(*args, **kwargs)


def reduce_across_processes(val):
    return torch.tensor(val)


def get_optimizer_params(optimizer):
    return [p for group in optimizer.param_groups for p in group["params"]]
