"""Independent PyTorch StyleGAN2 (rosinality layout) used only by tests/test_stylegan2.py."""

import torch


def randomize_(module: torch.nn.Module, seed: int, scale: float = 0.2) -> torch.nn.Module:
    """Gives every zero-initialised parameter (biases, noise strengths) random values, in place.

    Random init alone leaves noise strengths and biases at 0 (or 1 for modulation biases), which
    would leave those code paths untested.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias") or name.endswith("noise.weight"):
                p.add_(torch.randn(p.shape, generator=g) * scale)
    return module.eval()
