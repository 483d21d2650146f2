"""Module-level constants, the way nanoGPT-style scripts are written."""
import torch
import torch.nn as nn

n_layer = 4        # depth of the transformer
n_embd = 128
n_head = 4
dropout = 0.1
learning_rate = 6e-4  # max learning rate
weight_decay = 1e-1
batch_size = 32
grad_clip = 1.0
lr_schedule = "cosine"
activation = "gelu"

model = nn.TransformerEncoder(
    nn.TransformerEncoderLayer(n_embd, n_head, dropout=dropout, batch_first=True),
    num_layers=n_layer,
)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(0.9, 0.95), weight_decay=weight_decay)
