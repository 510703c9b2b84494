"""Explanations on one footing: attention and the classic explainers, vectorised.

    scores = attnjax.explain.gradient(model, params, tokens, lengths)       # [B, T]
    scores = attnjax.explain.explain(model, params, tokens, lengths,
                                     method="leave_one_out", mode="mask")   # [B, T]

Every explainer takes the arguments `model.apply(params, tokens, lengths)`
takes, plus `target` (None: the predicted class; <int32>[B]: given classes),
and returns <float32>[B, T] scores, exactly 0 on padding; stacked parameters
(a leading seed axis S) give [S, B, T] through `jax.vmap`. One module per
family: `gradients` (gradient, input × gradient, integrated gradients),
`occlusion` (leave-one-out), `counterfactual` (adversarial attention, which
returns weights rather than scores and so is not in `METHODS`), `instance`
(instance-level MI over perturbed copies of each example), `ablation` (the
model run with its attention replaced, finding ii). Models in, scores out;
`attnjax.analysis` takes the arrays these return.
`faithfulness` scores any of them (or a ground truth, or `random_scores`) by
ERASER's comprehensiveness and sufficiency, deletion curves and decision flips.
`explain_in_buckets` runs a method over many examples in length-sorted chunks,
each at its length bucket (`attnjax.data.buckets`).
"""

from attnjax.explain.ablation import ABLATIONS, ablate, permute_attention, uniform_attention
from attnjax.explain.counterfactual import (CounterfactualAttention, counterfactual_attention,
                                            jensen_shannon, total_variation)
from attnjax.explain.faithfulness import (faithfulness, random_baseline, random_scores,
                                          rank_positions, rankable_scores)
from attnjax.explain.gradients import gradient, input_x_gradient, integrated_gradients
from attnjax.explain.instance import (PERTURBATIONS, InstanceMI, instance_position_mi,
                                     perturbed_internals)
from attnjax.explain.occlusion import leave_one_out
from attnjax.explain.registry import METHODS, attention, explain, explain_in_buckets, instance_mi
from attnjax.explain.inputs_and_target import OUTPUTS

__all__ = ["ABLATIONS", "METHODS", "OUTPUTS", "PERTURBATIONS", "CounterfactualAttention", "InstanceMI",
           "ablate", "attention", "counterfactual_attention", "explain", "explain_in_buckets",
           "faithfulness", "gradient", "input_x_gradient", "instance_mi", "instance_position_mi",
           "integrated_gradients", "jensen_shannon", "leave_one_out", "permute_attention",
           "perturbed_internals", "random_baseline", "random_scores", "rank_positions",
           "rankable_scores",
           "total_variation", "uniform_attention"]
