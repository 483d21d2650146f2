# Two optimizers for two parameter groups (embed: lr=0.3; body, the most parameters: lr=0.002),
# gradient accumulation (a batch of 32 from micro-batches of 8), and a `def SGD` never called:
# what the baseline trace tells apart and reading alone cannot (tests/test_live_knobs.py).
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
batch_size = 32  # samples per optimizer step, accumulated
micro_batch_size = 8  # samples per forward pass
steps = 6


def SGD(params, lr=0.1):
    "Never called: the optimizers below are Adam."
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


embed = nn.Linear(16, 64)
body = nn.Sequential(nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
embed_optimizer = torch.optim.Adam(embed.parameters(), lr=0.3)
optimizer = torch.optim.Adam(body.parameters(), lr=0.002)
x, y = torch.randn(512, 16), torch.randint(0, 4, (512,))
accumulation = batch_size // micro_batch_size
for step in range(steps):
    for k in range(accumulation):
        start = (step * accumulation + k) * micro_batch_size
        xb, yb = x[start:start + micro_batch_size], y[start:start + micro_batch_size]
        loss = F.cross_entropy(body(embed(xb)), yb) / accumulation
        loss.backward()
    embed_optimizer.step()
    optimizer.step()
    embed_optimizer.zero_grad()
    optimizer.zero_grad()
    print(f"arrl: step={step + 1} val_loss={loss.item() * accumulation:.6f}")
