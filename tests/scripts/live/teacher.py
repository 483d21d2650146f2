# A fixed random teacher (torch.tanh in gen(), a name with no data word) labels the data; the
# model uses F.relu. Only the baseline shows gen() runs before training and never in a step
# (tests/test_live_knobs.py).
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


def gen(n, width=16):
    "A fixed random teacher labels the inputs: the task, not the model."
    x = torch.randn(n, width)
    w = torch.randn(width, 4)
    return x, torch.tanh(x @ w).argmax(dim=1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(16, 32), nn.Linear(32, 4)

    def forward(self, x):
        return self.second(F.relu(self.first(x)))


x, y = gen(512)
model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for step in range(20):
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"arrl: val_loss={loss.item():.6f}")
