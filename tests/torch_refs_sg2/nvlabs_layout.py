"""Renames a rosinality-layout StyleGAN2 state dict to the stylegan2-ada-pytorch layout.

Written independently of jaxlatent's converter (key by key from the NVlabs module tree) so the
NVlabs conversion path can be tested against the same torch reference. NVlabs SynthesisLayer
weights carry no equalised-lr gain, so W_nv = W_ros / sqrt(fan_in); ToRGB weights are equal.
"""

from __future__ import annotations

import math

import torch

from tests.torch_refs_sg2.model import fir_kernel


def generator_to_nvlabs(sd: dict, size: int, n_mlp: int, latent_avg: torch.Tensor) -> dict:
    out = {"mapping.w_avg": latent_avg.clone()}
    for i in range(n_mlp):
        out[f"mapping.fc{i}.weight"] = sd[f"style.{i + 1}.weight"]
        out[f"mapping.fc{i}.bias"] = sd[f"style.{i + 1}.bias"]
    out["synthesis.b4.const"] = sd["input.input"][0]
    out["synthesis.b4.resample_filter"] = fir_kernel()
    noise = lambda i: sd[f"noises.noise_{i}"][0, 0]
    out.update(_layer(sd, "conv1", "synthesis.b4.conv1", noise(0)))
    out.update(_torgb(sd, "to_rgb1", "synthesis.b4.torgb"))
    for j in range(int(math.log2(size)) - 2):
        b = f"synthesis.b{2 ** (j + 3)}"
        out[f"{b}.resample_filter"] = fir_kernel()
        out.update(_layer(sd, f"convs.{2 * j}", f"{b}.conv0", noise(2 * j + 1)))
        out.update(_layer(sd, f"convs.{2 * j + 1}", f"{b}.conv1", noise(2 * j + 2)))
        out.update(_torgb(sd, f"to_rgbs.{j}", f"{b}.torgb"))
    return out


def _layer(sd: dict, src: str, dst: str, noise: torch.Tensor) -> dict:
    w = sd[f"{src}.conv.weight"][0]
    return {f"{dst}.weight": w / math.sqrt(w[0].numel()),
            f"{dst}.affine.weight": sd[f"{src}.conv.modulation.weight"],
            f"{dst}.affine.bias": sd[f"{src}.conv.modulation.bias"],
            f"{dst}.noise_strength": sd[f"{src}.noise.weight"].reshape(()),
            f"{dst}.bias": sd[f"{src}.activate.bias"],
            f"{dst}.resample_filter": fir_kernel(),
            f"{dst}.noise_const": noise}


def _torgb(sd: dict, src: str, dst: str) -> dict:
    return {f"{dst}.weight": sd[f"{src}.conv.weight"][0],
            f"{dst}.affine.weight": sd[f"{src}.conv.modulation.weight"],
            f"{dst}.affine.bias": sd[f"{src}.conv.modulation.bias"],
            f"{dst}.bias": sd[f"{src}.bias"].reshape(3)}


def discriminator_to_nvlabs(sd: dict, size: int) -> dict:
    f = fir_kernel()
    out = {f"b{size}.fromrgb.weight": sd["convs.0.0.weight"], f"b{size}.fromrgb.bias": sd["convs.0.1.bias"],
           f"b{size}.fromrgb.resample_filter": f}
    for k in range(1, int(math.log2(size)) - 1):
        b, s = f"b{size >> (k - 1)}", f"convs.{k}"
        out.update({f"{b}.resample_filter": f,
                    f"{b}.conv0.weight": sd[f"{s}.conv1.0.weight"], f"{b}.conv0.bias": sd[f"{s}.conv1.1.bias"],
                    f"{b}.conv0.resample_filter": f,
                    f"{b}.conv1.weight": sd[f"{s}.conv2.1.weight"], f"{b}.conv1.bias": sd[f"{s}.conv2.2.bias"],
                    f"{b}.conv1.resample_filter": f,
                    f"{b}.skip.weight": sd[f"{s}.skip.1.weight"], f"{b}.skip.resample_filter": f})
    out.update({"b4.conv.weight": sd["final_conv.0.weight"], "b4.conv.bias": sd["final_conv.1.bias"],
                "b4.conv.resample_filter": f,
                "b4.fc.weight": sd["final_linear.0.weight"], "b4.fc.bias": sd["final_linear.0.bias"],
                "b4.out.weight": sd["final_linear.1.weight"], "b4.out.bias": sd["final_linear.1.bias"]})
    return out
