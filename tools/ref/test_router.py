"""Self-tests of models/router.py on hand-built cases.
Run: cd tools/ref && /usr/bin/python3 -m unittest test_router
"""
import unittest

import numpy as np

from models import load_from_tensors
from models.layers import linear, rms_norm
from models.router import RouterSpec, route
from models.synthetic import random_model


def logit(p):
    """Inverse sigmoid, so a test can state the sigmoid scores it wants."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(p / (1 - p))[None, :]


class SoftmaxTopK(unittest.TestCase):
    LOGITS = np.log(np.array([[1.0, 2.0, 3.0, 4.0]]))  # softmax = [0.1, 0.2, 0.3, 0.4]

    def test_qwen2moe_style_no_renormalisation(self):
        experts, weights = route(self.LOGITS, RouterSpec(n_experts_used=2))
        np.testing.assert_array_equal(experts, [[3, 2]])
        np.testing.assert_allclose(weights, [[0.4, 0.3]], rtol=1e-14)

    def test_qwen3moe_style_renormalised(self):
        _, weights = route(self.LOGITS, RouterSpec(n_experts_used=2, norm_topk_prob=True))
        np.testing.assert_allclose(weights, [[4 / 7, 3 / 7]], rtol=1e-14)

    def test_mixtral_equals_softmax_over_selected_logits(self):
        logits = np.random.default_rng(0).standard_normal((5, 8))
        experts, weights = route(logits, RouterSpec(n_experts_used=2, norm_topk_prob=True))
        chosen = np.take_along_axis(logits, experts, axis=-1)
        expect = np.exp(chosen) / np.exp(chosen).sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(weights, expect, rtol=1e-13)

    def test_ties_go_to_the_lower_index(self):
        experts, weights = route(np.zeros((1, 6)), RouterSpec(n_experts_used=3))
        np.testing.assert_array_equal(experts, [[0, 1, 2]])
        np.testing.assert_allclose(weights, [[1 / 6] * 3], rtol=1e-14)


class SigmoidBiasGroups(unittest.TestCase):
    def test_bias_changes_selection_not_weights(self):
        logits = logit([0.9, 0.8, 0.3, 0.2])
        bias = np.array([0.0, 0.0, 0.55, 0.0])  # selection scores [0.9, 0.8, 0.85, 0.2]
        spec = RouterSpec(n_experts_used=2, gating="sigmoid", norm_topk_prob=True, scaling_factor=2.5)
        plain_experts, _ = route(logits, spec)
        np.testing.assert_array_equal(plain_experts, [[0, 1]])
        experts, weights = route(logits, spec, bias=bias)
        np.testing.assert_array_equal(experts, [[0, 2]])
        # Unbiased scores 0.9 and 0.3, normalised to [0.75, 0.25], then x2.5.
        np.testing.assert_allclose(weights, [[1.875, 0.625]], rtol=1e-13)

    def test_normalise_before_scaling(self):
        spec = RouterSpec(n_experts_used=2, gating="sigmoid", norm_topk_prob=False, scaling_factor=2.0)
        _, weights = route(logit([0.9, 0.8, 0.3, 0.2]), spec)
        np.testing.assert_allclose(weights, [[1.8, 1.6]], rtol=1e-13)  # V2 style: scale only

    # Four groups of two: [0.95, 0.10 | 0.61, 0.60 | 0.90, 0.05 | 0.50, 0.50]
    GROUPED = logit([0.95, 0.10, 0.61, 0.60, 0.90, 0.05, 0.50, 0.50])

    def test_group_limited_top2_sum_differs_from_plain_top_k(self):
        plain, _ = route(self.GROUPED, RouterSpec(n_experts_used=2, gating="sigmoid"))
        np.testing.assert_array_equal(plain, [[0, 4]])
        # Group top-2 sums [1.05, 1.21, 0.95, 1.00]: groups 1 and 0 survive, expert 4 is masked.
        spec = RouterSpec(n_experts_used=2, gating="sigmoid", n_group=4, topk_group=2, group_score="top2sum")
        experts, weights = route(self.GROUPED, spec)
        np.testing.assert_array_equal(experts, [[0, 2]])
        np.testing.assert_allclose(weights, [[0.95, 0.61]], rtol=1e-13)

    def test_group_score_by_max(self):
        # Group maxima [0.95, 0.61, 0.90, 0.50]: groups 0 and 2 survive (DeepSeek-V2 style).
        spec = RouterSpec(n_experts_used=2, gating="sigmoid", n_group=4, topk_group=2, group_score="max")
        experts, _ = route(self.GROUPED, spec)
        np.testing.assert_array_equal(experts, [[0, 4]])

    def test_bias_moves_a_group(self):
        # +0.2 on expert 6 lifts group 3's sum to 1.20 > 1.05: groups 1 and 3 survive, expert 0 is out.
        bias = np.zeros(8)
        bias[6] = 0.2
        spec = RouterSpec(n_experts_used=2, gating="sigmoid", n_group=4, topk_group=2, norm_topk_prob=True)
        experts, weights = route(self.GROUPED, spec, bias=bias)
        np.testing.assert_array_equal(experts, [[6, 2]])  # selection 0.70 > 0.61
        np.testing.assert_allclose(weights, [[0.5 / 1.11, 0.61 / 1.11]], rtol=1e-13)  # unbiased 0.50, 0.61

    def test_masked_groups_lose_even_to_negative_scores(self):
        # Every biased score is negative; group 0 (sum -0.2) is the only one kept. Masking with -inf
        # (reference, llama.cpp) keeps experts 0 and 1; HF's 0.0 fill would let masked ones win.
        p = [0.9, 0.1, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1]
        spec = RouterSpec(n_experts_used=2, gating="sigmoid", n_group=4, topk_group=1)
        experts, weights = route(logit(p), spec, bias=np.full(8, -1.0))
        np.testing.assert_array_equal(experts, [[0, 1]])
        np.testing.assert_allclose(weights, [[0.9, 0.1]], rtol=1e-13)


class ModelRoute(unittest.TestCase):
    def test_model_route_is_the_layer_router(self):
        model = load_from_tensors(*random_model("deepseek2", seed=4))
        w = model.weights
        x = rms_norm(np.random.default_rng(5).standard_normal((4, 32)), w["blk.1.ffn_norm.weight"], 1e-6)
        experts, weights = model.route(1, x)
        spec = RouterSpec(n_experts_used=3, gating="sigmoid", norm_topk_prob=True, scaling_factor=2.5,
                          n_group=4, topk_group=2)
        e2, w2 = route(linear(x, w["blk.1.ffn_gate_inp.weight"]), spec, bias=w["blk.1.exp_probs_b.bias"])
        np.testing.assert_array_equal(experts, e2)
        np.testing.assert_allclose(weights, w2, rtol=1e-12)
        np.testing.assert_allclose(weights.sum(axis=-1), 2.5, rtol=1e-12)
        groups = experts // 2  # 8 experts in 4 groups
        self.assertTrue(all(len(set(g)) <= 2 for g in groups))


if __name__ == "__main__":
    unittest.main()
