"""The reference's transforms.py: RandomMixup and RandomCutmix on a batch, targets made one-hot."""
import torch
import torch.nn.functional as F


class RandomMixup:
    def __init__(self, num_classes, p=0.5, alpha=1.0):
        self.num_classes, self.p, self.alpha = num_classes, p, alpha

    def __call__(self, batch, target):
        target = F.one_hot(target, num_classes=self.num_classes).to(dtype=batch.dtype)
        if torch.rand(1).item() >= self.p:
            return batch, target
        lambda_param = float(torch._sample_dirichlet(torch.tensor([self.alpha, self.alpha]))[0])
        batch = batch.roll(1, 0).mul_(1.0 - lambda_param).add_(batch.mul(lambda_param))
        target = target.roll(1, 0).mul_(1.0 - lambda_param).add_(target.mul(lambda_param))
        return batch, target


class RandomCutmix:
    def __init__(self, num_classes, p=0.5, alpha=1.0):
        self.num_classes, self.p, self.alpha = num_classes, p, alpha

    def __call__(self, batch, target):
        target = F.one_hot(target, num_classes=self.num_classes).to(dtype=batch.dtype)
        if torch.rand(1).item() >= self.p:
            return batch, target
        lambda_param = float(torch._sample_dirichlet(torch.tensor([self.alpha, self.alpha]))[0])
        H, W = batch.shape[-2:]
        r_x, r_y = torch.randint(W, (1,)).item(), torch.randint(H, (1,)).item()
        r = 0.5 * (1.0 - lambda_param) ** 0.5
        x1, y1 = max(int(r_x - r * W), 0), max(int(r_y - r * H), 0)
        x2, y2 = min(int(r_x + r * W), W), min(int(r_y + r * H), H)
        batch = batch.clone()
        batch[:, :, y1:y2, x1:x2] = batch.roll(1, 0)[:, :, y1:y2, x1:x2]
        lambda_param = 1.0 - float((x2 - x1) * (y2 - y1)) / (W * H)
        target = target.roll(1, 0).mul_(1.0 - lambda_param).add_(target.mul(lambda_param))
        return batch, target
