"""torchvision ``VGG`` (configs D = vgg16, E = vgg19, no batch norm), written out for tests."""

import torch
from torch import nn

CFGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """Same modules and key names as torchvision; ``width`` scales channels (small tests)."""

    def __init__(self, arch="vgg16", width=1.0, hidden=4096, num_classes=1000):
        super().__init__()
        layers, c_in = [], 3
        for v in CFGS[arch]:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                c = max(1, int(round(v * width)))
                layers += [nn.Conv2d(c_in, c, kernel_size=3, padding=1), nn.ReLU()]
                c_in = c
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(c_in * 7 * 7, hidden), nn.ReLU(), nn.Dropout(),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def taps(model: VGG, x: torch.Tensor) -> dict:
    """Every named activation (NCHW maps, [N, D] vectors) of an eval-mode forward pass."""
    out, block, i = {}, 1, 1
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, nn.Conv2d):
            out[f"conv{block}_{i}"] = x
        elif isinstance(layer, nn.ReLU):
            out[f"relu{block}_{i}"] = x
            i += 1
        else:
            out[f"pool{block}"] = x
            block, i = block + 1, 1
    x = torch.flatten(model.avgpool(x), 1)
    c = model.classifier
    out["fc1_preact"] = c[0](x)
    out["fc1"] = c[1](out["fc1_preact"])
    out["fc2_preact"] = c[3](out["fc1"])
    out["fc2"] = c[4](out["fc2_preact"])
    out["logits"] = c[6](out["fc2"])
    out["softmax"] = torch.softmax(out["logits"], dim=1)
    return out


def texture(model: VGG, x: torch.Tensor, layers=("relu3_1", "relu4_1", "relu5_1")):
    """Inspirational-generation VGG19 feature: per-channel mean and E[x^2] - E[x]^2."""
    t, feats = taps(model, x), []
    for name in layers:
        f = t[name].flatten(2)
        mean = f.mean(-1)
        feats += [mean, (f * f).mean(-1) - mean * mean]
    return torch.cat(feats, dim=1)
