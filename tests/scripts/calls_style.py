"""Values live in calls; some are reached through names, choices are written as code."""
import torch
import torch.nn as nn
import torch.nn.functional as F

LR = 3e-3
LR = 2e-3  # the last assignment wins
CLIP = 0.5

model = nn.Sequential(
    nn.Linear(32, 64),
    nn.GELU(approximate="tanh"),
    nn.Dropout(p=0.25),
    nn.Linear(64, 10),
)
loader = torch.utils.data.DataLoader(list(range(100)), batch_size=16, shuffle=True)
optimizer = torch.optim.AdamW(
    model.parameters(),
    lr=LR,
    betas=(0.9, 0.99),  # a comment that must survive
    eps=1e-8,
    weight_decay=0.05,
)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)
for step in range(3):
    loss = F.cross_entropy(model(torch.randn(4, 32)), torch.zeros(4, dtype=torch.long))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    optimizer.step()
