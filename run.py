"""jaxlatent's entry point: ``python run.py --config=configs/<experiment>.py[:args] --workdir=DIR``.

Any config field can be overridden (``--config.search.num_steps=50``); the config is locked, so a
misspelt field is an error. Re-running the same command on the same workdir resumes. Ctrl-C
(SIGINT) stops with one line naming the newest checkpoint step and exit status 130.
"""

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder (default: runs/<config name>).")
flags.DEFINE_bool("distributed", False, "Multi-host run: call jax.distributed.initialize first "
                  "(arguments auto-detected on TPU pods, SLURM, ...; or give the three below). "
                  "Every process runs the same command; process 0 writes the outputs.")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (with --distributed).")
flags.DEFINE_integer("num_processes", None, "Number of processes (with --distributed).")
flags.DEFINE_integer("process_id", None, "This process's index (with --distributed).")
flags.mark_flags_as_required(["config"])


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    f = flags.FLAGS
    if f.distributed:
        from jaxlatent import sharding

        sharding.initialize(f.coordinator_address, f.num_processes, f.process_id)
    from jaxlatent import experiment  # imported late so --help is fast

    config = flags.FLAGS.config
    workdir = flags.FLAGS.workdir or os.path.join("runs", config.get("name", config.method))
    try:
        experiment.run(config, workdir)
    except KeyboardInterrupt:
        from jaxlatent.workdir import newest_checkpoint_step

        step = newest_checkpoint_step(workdir)
        where = f"at step {step}" if step is not None else "before the first checkpoint"
        print(f"interrupted {where} (the newest checkpoint in {workdir}); re-run the same "
              "command to resume", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Exit now: every file of the run is written atomically and the lock is released, and
        # waiting for orbax's background threads at shutdown only prints their tracebacks.
        os._exit(130)


if __name__ == "__main__":
    app.run(main)
