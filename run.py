"""jaxlatent's entry point: ``python run.py --config=configs/<experiment>.py[:args] --workdir=DIR``.

Any config field can be overridden (``--config.search.num_steps=50``); the config is locked, so a
misspelt field is an error. Re-running the same command on the same workdir resumes.
"""

import os

from absl import app, flags, logging
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder (default: runs/<config name>).")
flags.mark_flags_as_required(["config"])


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    from jaxlatent import experiment  # imported late so --help is fast

    config = flags.FLAGS.config
    workdir = flags.FLAGS.workdir or os.path.join("runs", config.get("name", config.method))
    experiment.run(config, workdir)


if __name__ == "__main__":
    app.run(main)
