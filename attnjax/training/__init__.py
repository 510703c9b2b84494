"""Training: S seeds in one compiled program, collection of model internals, run directories."""

from attnjax.models.seeds import is_stacked, stack_seeds  # where they were before models.seeds
from attnjax.training.collect import collect, evaluate
from attnjax.training.config import TrainConfig
from attnjax.training.loop import TrainResult, init_state, make_optimizer, seed_keys, train
from attnjax.training.checkpoint import load_run, save_run
from attnjax.training.sharding import use_cpu_devices
