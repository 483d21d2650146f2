# Derived from src/train.py, src/models/mnist_module.py, src/models/components/simple_dense_net.py
# and configs/ (train.yaml, model/mnist.yaml, data/mnist.yaml, trainer/default.yaml) of
# github.com/ashleve/lightning-hydra-template at commit bddbc24b82ab6ccfa6243e815a49dc5bfe8d4144.
# Shrunk in data and sizes only: synthetic 8x8 "images" labelled by a random teacher network made in
# the script instead of downloading MNIST (2000/500/500 instead of 55000/5000/10000); 4 epochs
# instead of 10. Lightning and torchmetrics are not installed where arrl's fixtures run, so the
# LightningModule's hooks are driven by a plain loop of the same steps; the optimizer is its own
# config group (conf/optimizer/adam.yaml, sgd.yaml) instead of a key of model/mnist.yaml, and the
# configs live in conf/ with conf/config.yaml as the primary config. Values, `_target_` and
# `_partial_` instantiation and the model are as in the source. Where Hydra is not installed,
# hydra_standin.py (next to this file) composes the same config. An `arrl:` metric line is
# printed after each validation.
import os
from typing import Any, Dict, Tuple

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

try:
    import hydra
    from omegaconf import DictConfig
except ImportError:  # the fixture runs where only torch is installed: see hydra_standin.py
    import hydra_standin as hydra
    from hydra_standin import DictConfig


class SimpleDenseNet(nn.Module):
    """A simple fully-connected neural net for computing predictions."""

    def __init__(
        self,
        input_size: int = 784,
        lin1_size: int = 256,
        lin2_size: int = 256,
        lin3_size: int = 256,
        output_size: int = 10,
    ) -> None:
        super().__init__()

        self.model = nn.Sequential(
            nn.Linear(input_size, lin1_size),
            nn.BatchNorm1d(lin1_size),
            nn.ReLU(),
            nn.Linear(lin1_size, lin2_size),
            nn.BatchNorm1d(lin2_size),
            nn.ReLU(),
            nn.Linear(lin2_size, lin3_size),
            nn.BatchNorm1d(lin3_size),
            nn.ReLU(),
            nn.Linear(lin3_size, output_size),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch_size, channels, width, height = x.size()

        # (batch, 1, width, height) -> (batch, 1*width*height)
        x = x.view(batch_size, -1)

        return self.model(x)


def make_dataset(n: int, noise: float, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Synthetic 8x8 images, labelled by a fixed random teacher network with some label noise."""
    teacher = torch.Generator().manual_seed(7)
    w1 = torch.randn(64, 32, generator=teacher)
    w2 = torch.randn(32, 10, generator=teacher)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=g)
    logits = torch.tanh(x.flatten(1) @ w1) @ w2
    y = (logits + noise * torch.randn(n, 10, generator=g)).argmax(-1)
    return x, y


class SyntheticDataModule:
    """The datamodule: train, validation and test splits of the synthetic task."""

    def __init__(self, batch_size: int = 64, train_val_test_split: Tuple[int, int, int] = (2_000, 500, 500),
                 noise: float = 0.1, num_workers: int = 0, pin_memory: bool = False) -> None:
        self.hparams = dict(batch_size=batch_size, train_val_test_split=train_val_test_split, noise=noise,
                            num_workers=num_workers, pin_memory=pin_memory)
        self.data_train = self.data_val = self.data_test = None

    def setup(self, stage: str = "fit") -> None:
        n_train, n_val, n_test = self.hparams["train_val_test_split"]
        x, y = make_dataset(n_train + n_val + n_test, self.hparams["noise"], seed=42)
        self.data_train = TensorDataset(x[:n_train], y[:n_train])
        self.data_val = TensorDataset(x[n_train:n_train + n_val], y[n_train:n_train + n_val])
        self.data_test = TensorDataset(x[n_train + n_val:], y[n_train + n_val:])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.data_train, batch_size=self.hparams["batch_size"], shuffle=True,
                          num_workers=self.hparams["num_workers"], pin_memory=self.hparams["pin_memory"])

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.data_val, batch_size=self.hparams["batch_size"], shuffle=False,
                          num_workers=self.hparams["num_workers"], pin_memory=self.hparams["pin_memory"])

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.data_test, batch_size=self.hparams["batch_size"], shuffle=False,
                          num_workers=self.hparams["num_workers"], pin_memory=self.hparams["pin_memory"])


class DenseNetModule:
    """The LightningModule of the template, its hooks called by `fit` below."""

    def __init__(self, net: torch.nn.Module, optimizer: Any, scheduler: Any, compile: bool) -> None:
        self.hparams = dict(optimizer=optimizer, scheduler=scheduler, compile=compile)
        self.net = net
        # loss function
        self.criterion = torch.nn.CrossEntropyLoss()

    def model_step(self, batch: Tuple[torch.Tensor, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        logits = self.net(x)
        loss = self.criterion(logits, y)
        preds = torch.argmax(logits, dim=1)
        return loss, (preds == y).float().mean()

    def configure_optimizers(self) -> Dict[str, Any]:
        optimizer = self.hparams["optimizer"](params=self.net.parameters())
        if self.hparams["scheduler"] is not None:
            scheduler = self.hparams["scheduler"](optimizer=optimizer)
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss", "interval": "epoch"}}
        return {"optimizer": optimizer}


def evaluate(module: DenseNetModule, loader: DataLoader) -> Tuple[float, float]:
    module.net.eval()
    losses, accs, sizes = [], [], []
    with torch.no_grad():
        for batch in loader:
            loss, acc = module.model_step(batch)
            losses.append(loss.item() * len(batch[1]))
            accs.append(acc.item() * len(batch[1]))
            sizes.append(len(batch[1]))
    module.net.train()
    return sum(losses) / sum(sizes), sum(accs) / sum(sizes)


def fit(module: DenseNetModule, datamodule: SyntheticDataModule, trainer_cfg: DictConfig) -> None:
    """Lightning's Trainer.fit for this module: train, validate every N epochs, step the scheduler."""
    datamodule.setup("fit")
    optimizers = module.configure_optimizers()
    optimizer = optimizers["optimizer"]
    scheduler = optimizers.get("lr_scheduler", {}).get("scheduler")
    step = 0
    for epoch in range(trainer_cfg.max_epochs):
        for batch in datamodule.train_dataloader():
            loss, _ = module.model_step(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
        if (epoch + 1) % trainer_cfg.check_val_every_n_epoch == 0:
            val_loss, val_acc = evaluate(module, datamodule.val_dataloader())
            print(f"arrl: step={step} val_loss={val_loss:.4f} val_acc={val_acc:.4f}", flush=True)
            if scheduler is not None:
                scheduler.step(val_loss)


def train(cfg: DictConfig) -> Dict[str, Any]:
    """Instantiates the datamodule, the model and its optimizer from the config, and trains."""
    # set seed for random number generators in pytorch
    if cfg.get("seed") is not None:
        torch.manual_seed(int(os.environ.get("ARRL_SEED", cfg.seed)))

    datamodule = hydra.utils.instantiate(cfg.data)
    net = hydra.utils.instantiate(cfg.model)
    if cfg.compile:
        net = torch.compile(net)
    module = DenseNetModule(net=net, optimizer=hydra.utils.instantiate(cfg.optimizer),
                            scheduler=hydra.utils.instantiate(cfg.scheduler), compile=cfg.compile)

    if cfg.get("train"):
        fit(module, datamodule, cfg.trainer)

    metrics = {}
    if cfg.get("test"):
        datamodule.setup("test")
        metrics["test/loss"], metrics["test/acc"] = evaluate(module, datamodule.test_dataloader())
        print(f"test loss {metrics['test/loss']:.4f} acc {metrics['test/acc']:.4f}")
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    """Main entry point for training."""
    train(cfg)


if __name__ == "__main__":
    main()
