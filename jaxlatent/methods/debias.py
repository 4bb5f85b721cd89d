"""Method ``debias``: the QDGS colour-biased shapes experiment (Chang et al., AAAI 2024, §4, Fig. 1).

Protocol (official ``shapes/train.py`` + ``train_eval.sh``, peer-code.md §3.6):

1. QDGS on the b = 0.98 VAE (method ``qdgs``, run into ``workdir/qdgs``) gives a labelled synthetic
   dataset; the baseline draws as many VAE samples z ~ N(0, I) and labels them with the same shape
   measure and rule (`qdgs.label_by_shape`).
2. For every bias b and seed: render 1000 real images with bias b, train the QDGS shapes classifier
   for 20 epochs (Adam 1e-3, batch 128, one random rotation per batch), then fine-tune a copy with a
   new Adam for 30 epochs on the QDGS data and another copy on the random VAE data.
3. Evaluate all three on 5000 rendered b = 0.5 images: balanced accuracy = mean of the four
   (shape × colour) group accuracies, threshold 0.5.

The official code ran one trial per b and no seeds; the paper's Fig. 1 shows 5 trials. Here every
(b, seed) trial is a line of ``results.jsonl`` (a re-run skips finished trials), and ``table.md`` /
``summary.json`` report mean ± standard error over seeds; ``accuracy.png`` and
``worst_group.png`` plot them with error bars, and ``report.md`` collects numbers and figures.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxlatent import images as img_io
from jaxlatent import outputs
from jaxlatent.data import augment, shapes
from jaxlatent.methods import debias_report, divrare_setup, qdgs
from jaxlatent.objectives import qdgs_shapes
from jaxlatent.models import shape_cnn
from jaxlatent.training import shape_cnn as trainer
from jaxlatent.workdir import Workdir

CONDITIONS = ("none", "qdgs", "random")


def run(config, workdir: Workdir) -> dict:
    synthetic = {"qdgs": _qdgs_dataset(config, workdir)}
    synthetic["random"] = _random_dataset(config, workdir, len(synthetic["qdgs"][0]))
    composition = {name: _composition(data) for name, data in synthetic.items()}
    eval_set = trainer.render_eval_set(jax.random.key(config.eval_key), config.num_eval, config.image_size)
    done = {(r["bias"], r["seed"]): r for r in workdir.read_metrics() if "bias" in r}
    trials = [(b, s) for b in config.biases for s in config.seeds]
    for b, s in tqdm([t for t in trials if t not in done], desc="debias trials", leave=False):
        row = _trial(config, b, s, synthetic, eval_set)
        workdir.append_metrics([row])
        done[(b, s)] = row
    rows = [done[t] for t in trials]
    return debias_report.write(workdir, config, rows, composition)


def _qdgs_dataset(config, workdir: Workdir):
    """Runs (or resumes, or reuses) QDGS in ``workdir/qdgs``; returns (images, labels, measures)."""
    sub = Workdir(workdir.file("qdgs"))
    sub.write_config(config.qdgs.to_dict())
    if not os.path.exists(sub.file("summary.json")):
        qdgs.run(config.qdgs, sub)
    with np.load(sub.file("dataset.npz")) as f:
        return _to_input(f["images"], config.image_size), f["labels"], f["measures"]


def _random_dataset(config, workdir: Workdir, size: int):
    """``size`` VAE samples z ~ N(0, I), labelled like the QDGS data: (images, labels, measures)."""
    nets = divrare_setup.load_networks(config.qdgs)
    decode = jax.jit(lambda z: nets.generator.apply_fn(nets.generator.params, z))
    measure = jax.jit(jax.vmap(lambda x: jax.numpy.stack([qdgs_shapes.colour_measure(x),
                                                         qdgs_shapes.shape_measure(x)])))
    key = jax.random.key(config.random_samples_key)
    images, labels, measures, draws = [], [], [], 0
    while sum(map(len, labels)) < size:
        z = jax.random.normal(jax.random.fold_in(key, draws), (200, 6))
        x = decode(z)
        m = np.asarray(measure(x))
        keep, lab = qdgs.label_by_shape(m[:, 1], config.qdgs.label_margin)
        images.append(np.asarray(x)[keep]), labels.append(lab), measures.append(m[keep])
        draws += 1
    images, labels, measures = (np.concatenate(a)[:size] for a in (images, labels, measures))
    images_uint8 = img_io.to_uint8(images)
    outputs.save_arrays(workdir, "random_dataset.npz", images=images_uint8, labels=labels, measures=measures)
    qdgs.save_dataset_grid(workdir.file("random_dataset.png"), images, measures, labels)
    return _to_input(images_uint8, config.image_size), labels, measures


def _to_input(images_uint8: np.ndarray, image_size: int) -> np.ndarray:
    x = np.asarray(images_uint8, np.float32) / 255.0
    return np.asarray(augment.area_downsample(x, image_size)) if len(x) else x[:, :image_size, :image_size]


def _composition(data) -> dict:
    """Counts per (shape, colour) by the search measures (colour > 0 = red)."""
    _, labels, measures = data
    red = measures[:, 0] > 0
    return {"size": int(len(labels)),
            "red_triangles": int(np.sum((labels == 0) & red)), "blue_triangles": int(np.sum((labels == 0) & ~red)),
            "red_squares": int(np.sum((labels == 1) & red)), "blue_squares": int(np.sum((labels == 1) & ~red))}


def _trial(config, bias: float, seed: int, synthetic: dict, eval_set) -> dict:
    """Pretrain on biased real data, fine-tune on each synthetic set; evaluate all (one table row)."""
    key = jax.random.fold_in(jax.random.key(seed), int(round(bias * 1000)))
    data_key, init_key, pre_key, fine_key = jax.random.split(key, 4)
    real, labels = shapes.sample_jit(data_key, config.num_real, bias)
    real = np.asarray(augment.area_downsample(real, config.image_size))
    params = shape_cnn.init_params(init_key, config.image_size)
    pre, pre_losses = trainer.train(params, real, np.asarray(labels.shape),
                                    trainer.TrainSpec(**config.pretrain), pre_key,
                                    desc=f"b={bias} seed={seed} pretrain")
    row = {"bias": bias, "seed": seed, "none": trainer.evaluate(pre, *eval_set),
           "pretrain_final_loss": pre_losses[-1]}
    for name in CONDITIONS[1:]:
        images, labels_syn, _ = synthetic[name]
        tuned, losses = trainer.train(pre, images, labels_syn, trainer.TrainSpec(**config.finetune),
                                      fine_key, desc=f"b={bias} seed={seed} fine-tune {name}")
        row[name] = trainer.evaluate(tuned, *eval_set)
        row[f"{name}_final_loss"] = losses[-1]
    return row
