"""Compact, independent PyTorch references (BigGAN-PyTorch and GAN-zoo PGAN layouts) for tests.

They follow the state-dict layout and eval-mode numerics of the official code; they are written
for the parity tests and key fixtures, not copied from those repositories.
"""
