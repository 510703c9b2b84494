"""Test-wide JAX settings: CPU, no silent rank promotion, compiled programs freed per module,
one persistent compilation cache per test run, XLA's optimisation passes off where they
cost more than they save."""

import gc
import os
import shutil
import tempfile

import jax
import pytest

# Most of the suite's programs are tiny and run once: XLA's optimisation passes cost more than
# they save (test_reproduce + test_training: 597 s → 305 s without them). Off for the tests and
# for the processes they start (`JAX_DISABLE_MOST_OPTIMIZATIONS`, inherited), except in the
# modules of RUN_BOUND, whose estimators train for hundreds of steps (test_mi_variational: 230 s
# with them, 273 s without). The library and its benchmarks compile at XLA's default level.
# The properties tested (bucketed == padded, seeds together == alone, steps_per_call, resume bit
# for bit, estimates against analytic truths) hold at either level; to run every test at the
# default level: ATTNJAX_TEST_XLA_OPTIMIZE=1.
OPTIMIZE_ALL = os.environ.get("ATTNJAX_TEST_XLA_OPTIMIZE") == "1"
RUN_BOUND = ("test_mi_variational.py", "test_mi_crossfit.py", "test_mi_api.py",
             "test_data_shared.py", "test_calibration.py")
if not OPTIMIZE_ALL:
  os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"
jax.config.update("jax_disable_most_optimizations", not OPTIMIZE_ALL)

jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_numpy_rank_promotion", "raise")

# Tests build the same small programs again and again (new closures, same XLA program): a
# persistent compilation cache turns those recompilations into loads (-20% CPU time on
# test_models + test_explain). One fresh folder per run, made by the process pytest starts
# and inherited by its xdist workers, removed when that process ends: every run starts cold.
_MADE_HERE = "ATTNJAX_TEST_XLA_CACHE" not in os.environ
if _MADE_HERE:
  os.environ["ATTNJAX_TEST_XLA_CACHE"] = tempfile.mkdtemp(prefix="attnjax-tests-xla-")
jax.config.update("jax_compilation_cache_dir", os.environ["ATTNJAX_TEST_XLA_CACHE"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
# The same cache for the processes the tests start (CLI runs, the sharded-seeds script, Ray's
# workers, which compile what the test's local reference run compiled); test_resume sets its own.
os.environ.update(JAX_COMPILATION_CACHE_DIR=os.environ["ATTNJAX_TEST_XLA_CACHE"],
                  JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                  JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")


@pytest.fixture(autouse=True, scope="module")
def _optimise_run_bound_modules(request):
  """XLA's optimisation passes on for the modules of RUN_BOUND (see above), off elsewhere."""
  run_bound = OPTIMIZE_ALL or request.path.name in RUN_BOUND
  jax.config.update("jax_disable_most_optimizations", not run_bound)
  yield
  jax.config.update("jax_disable_most_optimizations", not OPTIMIZE_ALL)


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
  """Drops JAX's compilation caches after each test module.

  Every compiled XLA:CPU executable holds ~7 memory mappings until its cache entry
  goes; the suite compiles thousands of programs, and one process past the kernel's
  `vm.max_map_count` (65,530 by default) segfaults inside the next compilation
  (seen in CI at ~86% of the suite). Clearing per module keeps the count bounded.
  """
  yield
  jax.clear_caches()
  gc.collect()


# The longest test files first, so that with `-n 2` (the README's test line) no long test
# starts last and leaves one worker idle at the end.
LONGEST_FIRST = ("test_reproduce.py", "test_ray.py", "test_training.py", "test_resume.py",
                 "test_cache.py",
                 "test_analysis.py", "test_calibration.py", "test_mi_crossfit.py",
                 "test_bucketing.py")


def pytest_collection_modifyitems(items):
  rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
  items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files keep order


def pytest_unconfigure(config):
  if _MADE_HERE:
    shutil.rmtree(os.environ.pop("ATTNJAX_TEST_XLA_CACHE"), ignore_errors=True)
