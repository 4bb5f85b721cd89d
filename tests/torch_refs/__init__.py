"""Independent PyTorch reference implementations used by the parity tests.

torchvision cannot be installed next to torch 2.13 here, so the architectures are re-written from
the torchvision / lpips definitions with the official ``state_dict`` key layout. They share no
code with jaxlatent.
"""
