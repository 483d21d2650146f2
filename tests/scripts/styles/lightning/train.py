"""A classifier in the style of a PyTorch Lightning script: a LightningModule that saves its
constructor arguments as hparams, argparse flags that build it and the Trainer. Written for
arrl's tests; it is read, never run."""
from argparse import ArgumentParser

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader


class LitClassifier(L.LightningModule):
    def __init__(self, hidden_dim=128, learning_rate=1e-3, dropout=0.1, weight_decay=0.0, warmup_epochs=1):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(784, self.hparams.hidden_dim), nn.GELU(),
                                 nn.Dropout(self.hparams.dropout), nn.Linear(self.hparams.hidden_dim, 10))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x.flatten(1)), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x.flatten(1)), y))

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.learning_rate,
                                      weight_decay=self.hparams.weight_decay)
        scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1,
                                                      total_iters=self.hparams.warmup_epochs)
        return [optimizer], [scheduler]


def main():
    parser = ArgumentParser()
    parser.add_argument("--data_dir", type=str, default="./data")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--num_workers", type=int, default=4)
    parser.add_argument("--hidden_dim", type=int, default=256)
    parser.add_argument("--learning_rate", type=float, default=3e-4)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--weight_decay", type=float, default=0.01)
    parser.add_argument("--warmup_epochs", type=int, default=2)
    parser.add_argument("--max_epochs", type=int, default=10)
    parser.add_argument("--accumulate_grad_batches", type=int, default=1)
    parser.add_argument("--gradient_clip_val", type=float, default=1.0)
    parser.add_argument("--precision", type=str, default="32-true")
    parser.add_argument("--accelerator", type=str, default="auto")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--val_check_interval", type=float, default=1.0)
    args = parser.parse_args()
    L.seed_everything(args.seed)
    model = LitClassifier(hidden_dim=args.hidden_dim, learning_rate=args.learning_rate, dropout=args.dropout,
                          weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs)
    trainer = L.Trainer(max_epochs=args.max_epochs, accelerator=args.accelerator, devices=args.devices,
                        precision=args.precision, gradient_clip_val=args.gradient_clip_val,
                        accumulate_grad_batches=args.accumulate_grad_batches,
                        val_check_interval=args.val_check_interval)
    train_loader = DataLoader(torch.load(f"{args.data_dir}/train.pt"), batch_size=args.batch_size,
                              num_workers=args.num_workers)
    val_loader = DataLoader(torch.load(f"{args.data_dir}/val.pt"), batch_size=args.batch_size)
    trainer.fit(model, train_loader, val_loader)
    print(f"arrl: val_loss={trainer.callback_metrics['val_loss']:.4f}")


if __name__ == "__main__":
    main()
