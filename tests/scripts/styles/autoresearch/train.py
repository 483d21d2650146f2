"""A CPU analogue of an autoresearch-style train.py: upper-case settings at the top, four
learning rates (embedding, unembedding, matrices, scalars), warmup/warmdown ratios, a total
batch size written as a power of two, a model config class whose defaults the build replaces,
and a frozen evaluation block. A tiny residual MLP language model on a synthetic Markov chain,
in numpy with hand-written gradients: one run takes well under a second of compute."""
import math
from dataclasses import dataclass

import numpy as np

# Model architecture
ASPECT_RATIO = 8        # model_dim = DEPTH * ASPECT_RATIO
HEAD_DIM = 4            # model_dim is rounded to a multiple of it
WINDOW_PATTERN = "SL"   # per layer: S = half-strength residual, L = full

# Optimization
TOTAL_BATCH_SIZE = 2**9     # tokens per optimizer step
EMBEDDING_LR = 0.3
UNEMBEDDING_LR = 0.004
MATRIX_LR = 0.04
SCALAR_LR = 0.5
WEIGHT_DECAY = 0.2
WARMUP_RATIO = 0
WARMDOWN_RATIO = 0.5
FINAL_LR_FRAC = 0.0

# Model size and memory
DEPTH = 2
DEVICE_BATCH_SIZE = 128
TRAIN_STEPS = 60
SEED = 1337

# arrl: frozen
VOCAB_SIZE = 16
EVAL_TOKENS = 4096


def make_chain(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(VOCAB_SIZE, VOCAB_SIZE)) * 2.0
    table = np.exp(logits)
    return table / table.sum(1, keepdims=True)


def sample_pairs(chain, count, rng):
    current = rng.integers(0, VOCAB_SIZE, size=count)
    following = (chain[current].cumsum(1) < rng.random(count)[:, None]).sum(1)
    return current, np.minimum(following, VOCAB_SIZE - 1)


def evaluate_bpb(forward, chain):
    x, y = sample_pairs(chain, EVAL_TOKENS, np.random.default_rng(7))
    probabilities = forward(x)[-1]
    return float(-np.log2(probabilities[np.arange(len(y)), y] + 1e-12).mean())
# arrl: end frozen


@dataclass
class GPTConfig:
    vocab_size: int = 32
    n_layer: int = 12
    n_head: int = 6
    n_embd: int = 768
    window_pattern: str = "SSSL"


def build(config, rng):
    dim = config.n_embd
    return {
        "embedding": rng.normal(size=(config.vocab_size, dim)) * 0.5,
        "matrices": [rng.normal(size=(dim, dim)) / math.sqrt(dim) for _ in range(config.n_layer)],
        "gains": np.ones(config.n_layer) * 0.5,
        "unembedding": rng.normal(size=(dim, config.vocab_size)) * 0.01,
    }


def make_forward(params, config):
    strengths = [1.0 if config.window_pattern[i % len(config.window_pattern)] == "L" else 0.5
                 for i in range(config.n_layer)]

    def forward(x):
        h = params["embedding"][x]
        cache = [h]
        for i, w in enumerate(params["matrices"]):
            z = h @ w
            a = np.maximum(z, 0.0) ** 2
            h = h + strengths[i] * params["gains"][i] * a
            cache += [z, a, h]
        logits = h @ params["unembedding"]
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        cache.append(p / p.sum(1, keepdims=True))
        return cache

    def gradients(x, y):
        cache = forward(x)
        p = cache[-1].copy()
        p[np.arange(len(y)), y] -= 1.0
        p /= len(y)
        h_last = cache[-2]
        grads = {"unembedding": h_last.T @ p, "matrices": [None] * config.n_layer,
                 "gains": np.zeros(config.n_layer)}
        dh = p @ params["unembedding"].T
        for i in reversed(range(config.n_layer)):
            z, a = cache[1 + 3 * i], cache[2 + 3 * i]
            h_in = cache[3 * i]
            grads["gains"][i] = strengths[i] * float((dh * a).sum())
            dz = dh * strengths[i] * params["gains"][i] * 2.0 * np.maximum(z, 0.0)
            grads["matrices"][i] = h_in.T @ dz
            dh = dh + dz @ params["matrices"][i].T
        embedding = np.zeros_like(params["embedding"])
        np.add.at(embedding, x, dh)
        grads["embedding"] = embedding
        return grads

    return forward, gradients


def lr_multiplier(progress):
    if progress < WARMUP_RATIO:
        return (progress + 1e-8) / WARMUP_RATIO
    if progress > 1.0 - WARMDOWN_RATIO:
        cooldown = (1.0 - progress) / WARMDOWN_RATIO
        return cooldown + (1 - cooldown) * FINAL_LR_FRAC
    return 1.0


def main():
    rng = np.random.default_rng(SEED)
    chain = make_chain(0)
    model_dim = max(HEAD_DIM, (DEPTH * ASPECT_RATIO + HEAD_DIM - 1) // HEAD_DIM * HEAD_DIM)
    num_heads = model_dim // HEAD_DIM
    config = GPTConfig(vocab_size=VOCAB_SIZE, n_layer=DEPTH, n_head=num_heads, n_embd=model_dim,
                       window_pattern=WINDOW_PATTERN)
    params = build(config, rng)
    forward, gradients = make_forward(params, config)
    accumulation = max(1, TOTAL_BATCH_SIZE // DEVICE_BATCH_SIZE)
    rates = {"embedding": EMBEDDING_LR, "unembedding": UNEMBEDDING_LR, "matrices": MATRIX_LR, "gains": SCALAR_LR}
    moments = {}
    for step in range(TRAIN_STEPS):
        total = None
        for _ in range(accumulation):
            x, y = sample_pairs(chain, DEVICE_BATCH_SIZE, rng)
            grads = gradients(x, y)
            total = grads if total is None else {
                k: ([a + b for a, b in zip(total[k], v)] if isinstance(v, list) else total[k] + v)
                for k, v in grads.items()}
        scale = lr_multiplier(step / TRAIN_STEPS)
        for name, grad in total.items():
            pieces = grad if isinstance(grad, list) else [grad]
            targets = params[name] if isinstance(grad, list) else [params[name]]
            for index, (g, p) in enumerate(zip(pieces, targets)):
                g = g / accumulation
                m, v = moments.get((name, index), (np.zeros_like(g), np.zeros_like(g)))
                m = 0.8 * m + 0.2 * g
                v = 0.95 * v + 0.05 * g * g
                moments[(name, index)] = (m, v)
                if name == "matrices":
                    p *= 1.0 - rates[name] * scale * WEIGHT_DECAY
                p -= rates[name] * scale * m / (np.sqrt(v) + 1e-8)
        if not all(np.isfinite(np.asarray(p)).all() for p in params["matrices"]):
            break
        if step % 20 == 19:
            print(f"arrl: step={step + 1} val_bpb={evaluate_bpb(forward, chain):.5f}", flush=True)
    print(f"arrl: step={TRAIN_STEPS} val_bpb={evaluate_bpb(forward, chain):.5f}", flush=True)


if __name__ == "__main__":
    main()
