# Derived from nbs/examples/migrating_pytorch.py (commit 0ceb34a04124599d4ab26ad2b84c60b2572fc318)
# and its notebook nbs/examples/migrating_pytorch.ipynb (commit
# 03fc7eadfb137b34957dd6712c0ec47a7d8eb47b) of github.com/fastai/fastai: the MNIST net and loaders
# of PyTorch's example, whose own train()/test() loop and AdamW optimizer the Learner replaces
# (`Learner(data, Net(), loss_func=F.nll_loss, opt_func=Adam, metrics=accuracy)` and
# `fit_one_cycle`). fastai is not installed where arrl's fixtures run, so the few parts of it used
# here are written in the script, after fastai/optimizer.py (SGD, Adam: functions that build an
# optimizer; SGD is never called) and fastai/callback/schedule.py (fit_one_cycle's cosine 1cycle of
# lr and momentum, same defaults). Shrunk in data and sizes only: synthetic 12x12 digit-like images
# (1024 train, 512 test, ten classes) made in the script instead of downloading MNIST; convolutions
# of 8 and 16 channels and a 32-unit hidden layer instead of 32, 64 and 128; batch size 64 and
# test batch size 256. `fit_one_cycle(5, lr_max=3e-3)` as the issue describes. An `arrl:` metric
# line is printed after each epoch.
import math
import os

import torch
from torch import nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.optim.lr_scheduler import StepLR

class Flatten(nn.Module):
    def forward(self, x): return x.view(x.size(0), -1)

class Net(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.Conv2d(1, 8, 3, 1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, 1), nn.MaxPool2d(2), nn.Dropout2d(0.25),
            Flatten(), nn.Linear(256, 32), nn.ReLU(), nn.Dropout2d(0.5),
            nn.Linear(32, 10), nn.LogSoftmax(dim=1) )

def train(model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % 100 == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx*len(data), len(train_loader.dataset),
                100. * batch_idx/len(train_loader), loss.item()))

def test(model, device, test_loader):
    model.eval()
    test_loss,correct = 0,0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()
    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss/len(test_loader.dataset), correct, len(test_loader.dataset),
        100. * correct/len(test_loader.dataset)))

def synthetic_digits(n, seed):
    "Ten 12x12 stroke templates, shifted by up to a pixel, with noise: the stand-in for MNIST."
    templates = (torch.rand(10, 1, 12, 12, generator=torch.Generator().manual_seed(3)) > 0.6).float()
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    shifts = torch.randint(-1, 2, (n, 2), generator=g)
    images = torch.stack([templates[lab].roll(tuple(s.tolist()), dims=(1, 2)) for lab, s in zip(labels, shifts)])
    images = images + 0.5 * torch.randn(images.shape, generator=g)
    return TensorDataset((images - 0.1307) / 0.3081, labels)

batch_size,test_batch_size = 64,256
epochs,lr,gamma = 1,1e-2,0.7

torch.manual_seed(int(os.environ.get("ARRL_SEED", 0)))
use_cuda = torch.cuda.is_available()
device = torch.device("cuda" if use_cuda else "cpu")
kwargs = {'num_workers': 1, 'pin_memory': True} if use_cuda else {}
train_loader = DataLoader(synthetic_digits(1024, seed=1),
    batch_size=batch_size, shuffle=True, **kwargs)
test_loader = DataLoader(synthetic_digits(512, seed=2),
    batch_size=test_batch_size, shuffle=True, **kwargs)

model = Net().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=lr)

# ---------------------------------------------------------------------------------------------
# The parts of fastai this script uses (fastai.optimizer, fastai.learner, fastai.callback.schedule)

def SGD(params, lr, mom=0., wd=0., decouple_wd=True):
    "A `torch.optim.SGD` with fastai's names: `mom` for momentum, `wd` for weight decay"
    return torch.optim.SGD(params, lr=lr, momentum=mom, weight_decay=wd)

def Adam(params, lr, mom=0.9, sqr_mom=0.99, eps=1e-5, wd=0.01, decouple_wd=True):
    "An Adam with decoupled weight decay (AdamW) and fastai's default betas, eps and wd"
    return torch.optim.AdamW(params, lr=lr, betas=(mom, sqr_mom), eps=eps, weight_decay=wd)

def combined_cos(pct, start, middle, end):
    "A cosine from `start` to `middle` over the first `pct` of training, then from `middle` to `end`"
    def sched(pos):
        if pos < pct:
            return start + (middle - start) * (1 - math.cos(math.pi * pos / pct)) / 2
        return middle + (end - middle) * (1 - math.cos(math.pi * (pos - pct) / (1 - pct))) / 2
    return sched

class DataLoaders:
    def __init__(self, train, valid): self.train,self.valid = train,valid

def accuracy(inp, targ): return (inp.argmax(dim=-1) == targ).float().mean()

class Learner:
    def __init__(self, dls, model, loss_func, opt_func=Adam, lr=1e-3, metrics=None, wd=None,
                 moms=(0.95,0.85,0.95)):
        self.dls,self.model,self.loss_func,self.opt_func = dls,model,loss_func,opt_func
        self.lr,self.wd,self.moms = lr,wd,moms
        self.metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics] if metrics else []
        self.opt = None

    def create_opt(self):
        kw = {} if self.wd is None else {'wd': self.wd}
        self.opt = self.opt_func(self.model.parameters(), lr=self.lr, **kw)

    def set_hyper(self, lr, mom):
        for group in self.opt.param_groups:
            group['lr'] = lr
            if 'betas' in group:
                group['betas'] = (mom, group['betas'][1])
            elif 'momentum' in group:
                group['momentum'] = mom

    def validate(self):
        self.model.eval()
        total,metric,n = 0.,0.,0
        with torch.no_grad():
            for xb,yb in self.dls.valid:
                out = self.model(xb)
                total += self.loss_func(out, yb).item() * len(yb)
                metric += self.metrics[0](out, yb).item() * len(yb) if self.metrics else 0.
                n += len(yb)
        self.model.train()
        return total/n, metric/n

    def fit(self, n_epoch, scheds=None, wd=None):
        if self.opt is None:
            self.create_opt()
        if wd is not None:
            for group in self.opt.param_groups:
                group['weight_decay'] = wd
        n_iter,it = n_epoch * len(self.dls.train),0
        for epoch in range(n_epoch):
            self.model.train()
            for xb,yb in self.dls.train:
                if scheds:
                    self.set_hyper(scheds['lr'](it/n_iter), scheds['mom'](it/n_iter))
                loss = self.loss_func(self.model(xb), yb)
                loss.backward()
                self.opt.step()
                self.opt.zero_grad()
                it += 1
            valid_loss,metric = self.validate()
            print(f"arrl: step={it} val_loss={valid_loss:.4f} accuracy={metric:.4f}", flush=True)

    def fit_one_cycle(self, n_epoch, lr_max=None, div=25., div_final=1e5, pct_start=0.25, wd=None, moms=None):
        "Fit `self.model` for `n_epoch` using the 1cycle policy."
        if self.opt is None:
            self.create_opt()
        lr_max = self.lr if lr_max is None else lr_max
        scheds = {'lr': combined_cos(pct_start, lr_max/div, lr_max, lr_max/div_final),
                  'mom': combined_cos(pct_start, *(self.moms if moms is None else moms))}
        self.fit(n_epoch, scheds=scheds, wd=wd)

# ---------------------------------------------------------------------------------------------
# The notebook: fastai's training loop in place of train(), test() and the epoch loop

data = DataLoaders(train_loader, test_loader)
learn = Learner(data, Net(), loss_func=F.nll_loss, opt_func=Adam, metrics=accuracy)
learn.fit_one_cycle(5, lr_max=3e-3)
