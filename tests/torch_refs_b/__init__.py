"""Independent PyTorch implementations used only by the parity tests of part B (Inception, CLIP).

They are written from the architecture descriptions (torchvision Inception3 + pytorch-fid's FID
patches; OpenAI CLIP's ``model.py``) with the official state-dict key layout, so that a random
state dict from them looks exactly like the official checkpoint files to the converters.
"""
