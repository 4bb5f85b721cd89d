"""Prints how each shipped embedded model was trained and its measured quality.

    python -m jaxlatent.weights_info

The numbers are the ``training`` metadata that ``run.py --config=configs/train_*.py
--config.export=True`` stored in the file: steps, wall time of the training process and the
evaluation the task ran at the end (held-out reconstruction error, balanced accuracy, ...).
"""

import glob
import json
import os

from jaxlatent import params as params_io
from jaxlatent.models.embedded import WEIGHTS_DIR


def main() -> None:
    for path in sorted(glob.glob(os.path.join(WEIGHTS_DIR, "*.npz"))):
        _, meta = params_io.load_params(path)
        training = meta.get("training", {})
        training.pop("exported_to", None)
        size = os.path.getsize(path) / 1e6
        print(f"{os.path.basename(path)} ({size:.1f} MB): {json.dumps(training, sort_keys=True)}")


if __name__ == "__main__":
    main()
