"""torchvision ``AlexNet`` (the "one weird trick" variant), written out for tests."""

import torch
from torch import nn


class AlexNet(nn.Module):
    """Same modules and key names as torchvision; ``width`` scales channels (small tests)."""

    def __init__(self, width=1.0, hidden=4096, num_classes=1000):
        super().__init__()

        def w(c):
            return max(1, int(round(c * width)))

        self.features = nn.Sequential(
            nn.Conv2d(3, w(64), kernel_size=11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(w(64), w(192), kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(w(192), w(384), kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(w(384), w(256), kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(w(256), w(256), kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(w(256) * 6 * 6, hidden), nn.ReLU(),
            nn.Dropout(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def taps(model: AlexNet, x: torch.Tensor) -> dict:
    """Every named activation of an eval-mode forward pass."""
    names = ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "conv4",
             "relu4", "conv5", "relu5", "pool5"]
    out = {}
    for name, layer in zip(names, model.features):
        x = out[name] = layer(x)
    out["features"] = torch.flatten(x, 1)
    x = torch.flatten(model.avgpool(x), 1)
    c = model.classifier
    out["fc1_preact"] = c[1](x)
    out["fc1"] = c[2](out["fc1_preact"])
    out["fc2_preact"] = c[4](out["fc1"])
    out["fc2"] = c[5](out["fc2_preact"])
    out["logits"] = c[6](out["fc2"])
    out["softmax"] = torch.softmax(out["logits"], dim=1)
    return out
