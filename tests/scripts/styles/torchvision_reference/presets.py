"""The reference's presets.py for tensors, without torchvision: training crops and flips (and
random erasing), evaluation resize and centre crop, both normalised. Auto-augment policies are not
available here."""
import torch
import torch.nn.functional as F


def _resize(image, size, interpolation):
    return F.interpolate(image[None], size=(size, size), mode=interpolation.value, align_corners=False)[0]


class ClassificationPresetTrain:
    def __init__(self, *, crop_size, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                 interpolation=None, hflip_prob=0.5, auto_augment_policy=None, random_erase_prob=0.0):
        if auto_augment_policy is not None:
            raise ValueError(f"auto-augment policy {auto_augment_policy!r} is not available in this copy")
        self.crop_size, self.interpolation, self.hflip_prob = crop_size, interpolation, hflip_prob
        self.mean, self.std = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)
        self.random_erase_prob = random_erase_prob

    def __call__(self, image):
        h = image.shape[-1]
        side = int(h * (0.35 + 0.65 * torch.rand(()).item()) ** 0.5)
        top, left = torch.randint(0, h - side + 1, (2,)).tolist()
        image = _resize(image[:, top:top + side, left:left + side], self.crop_size, self.interpolation)
        if torch.rand(()) < self.hflip_prob:
            image = image.flip(-1)
        image = (image - self.mean) / self.std
        if torch.rand(()) < self.random_erase_prob:
            s = self.crop_size // 3
            top, left = torch.randint(0, self.crop_size - s + 1, (2,)).tolist()
            image[:, top:top + s, left:left + s] = 0
        return image


class ClassificationPresetEval:
    def __init__(self, *, crop_size, resize_size=256, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                 interpolation=None):
        self.crop_size, self.resize_size, self.interpolation = crop_size, resize_size, interpolation
        self.mean, self.std = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)

    def __call__(self, image):
        image = _resize(image, self.resize_size, self.interpolation)
        margin = (self.resize_size - self.crop_size) // 2
        image = image[:, margin:margin + self.crop_size, margin:margin + self.crop_size]
        return (image - self.mean) / self.std
