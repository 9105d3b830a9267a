"""Self-tests of models/layers.py: hand-computed cases and invariants.
Run: cd tools/ref && /usr/bin/python3 -m unittest test_layers
"""
import math
import unittest

import numpy as np

from models import layers


class RmsNorm(unittest.TestCase):
    def test_hand_case(self):
        # mean(x^2) = (9 + 16) / 2 = 12.5
        y = layers.rms_norm(np.array([[3.0, 4.0]]), np.array([1.0, 2.0]), eps=0.0)
        np.testing.assert_allclose(y, [[3 / math.sqrt(12.5), 8 / math.sqrt(12.5)]], rtol=1e-15)

    def test_eps_and_scale_invariance(self):
        x = np.random.default_rng(0).standard_normal((3, 8))
        w = np.ones(8)
        np.testing.assert_allclose(layers.rms_norm(x * 1000, w, 0.0), layers.rms_norm(x, w, 0.0), rtol=1e-12)
        # eps matters for tiny inputs: a zero vector stays zero, not NaN
        self.assertTrue(np.all(layers.rms_norm(np.zeros((1, 4)), np.ones(4), 1e-6) == 0))


class Rope(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(1)
        inv, mag = layers.rope_inv_freq(8, 10000.0)
        self.assertEqual(mag, 1.0)
        self.cos, self.sin = layers.rope_cos_sin(np.arange(6), inv)

    def test_hand_case_neox_and_norm(self):
        # head_dim 4: theta = [1, 10000^-0.5 = 0.01]; at position 1 the angles are [1, 0.01].
        inv, _ = layers.rope_inv_freq(4, 10000.0)
        np.testing.assert_allclose(inv, [1.0, 0.01], rtol=1e-15)
        cos, sin = layers.rope_cos_sin(np.array([1]), inv)
        x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
        c0, s0, c1, s1 = math.cos(1), math.sin(1), math.cos(0.01), math.sin(0.01)
        neox = [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 1 * s0 + 3 * c0, 2 * s1 + 4 * c1]  # pairs (0,2), (1,3)
        norm = [1 * c0 - 2 * s0, 1 * s0 + 2 * c0, 3 * c1 - 4 * s1, 3 * s1 + 4 * c1]  # pairs (0,1), (2,3)
        np.testing.assert_allclose(layers.apply_rope(x, cos, sin, "neox")[0, 0], neox, rtol=1e-14)
        np.testing.assert_allclose(layers.apply_rope(x, cos, sin, "norm")[0, 0], norm, rtol=1e-14)

    def test_position_zero_is_identity_and_norm_preserved(self):
        x = self.rng.standard_normal((6, 3, 8))
        for style in ("neox", "norm"):
            y = layers.apply_rope(x, self.cos, self.sin, style)
            np.testing.assert_allclose(y[0], x[0], rtol=0, atol=0)
            np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-13)

    def test_scores_depend_only_on_relative_position(self):
        q, k = self.rng.standard_normal((1, 1, 8)), self.rng.standard_normal((1, 1, 8))
        for style in ("neox", "norm"):
            def rot(v, pos):
                return layers.apply_rope(v, self.cos[pos:pos + 1], self.sin[pos:pos + 1], style)[0, 0]
            self.assertAlmostEqual(rot(q, 3) @ rot(k, 1), rot(q, 5) @ rot(k, 3), places=12)
            self.assertAlmostEqual(rot(q, 2) @ rot(k, 2), float(q[0, 0] @ k[0, 0]), places=12)

    def test_norm_is_neox_on_interleaved_dims(self):
        # Moving dims (2i, 2i+1) to (i, i+d/2) turns a "norm" rotation into a "neox" one.
        x = self.rng.standard_normal((6, 2, 8))
        perm = np.concatenate([np.arange(0, 8, 2), np.arange(1, 8, 2)])
        y_norm = layers.apply_rope(x, self.cos, self.sin, "norm")
        y_neox = layers.apply_rope(x[..., perm], self.cos, self.sin, "neox")
        np.testing.assert_allclose(y_norm[..., perm], y_neox, rtol=1e-14)

    def test_partial_rotation_leaves_tail(self):
        inv, _ = layers.rope_inv_freq(4, 10000.0)
        cos, sin = layers.rope_cos_sin(np.arange(3), inv)
        x = self.rng.standard_normal((3, 1, 8))
        np.testing.assert_array_equal(layers.apply_rope(x, cos, sin, "neox")[..., 4:], x[..., 4:])


class Yarn(unittest.TestCase):
    V3 = {"type": "yarn", "factor": 40.0, "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1}

    def test_v3_correction_range(self):
        # Reference notes 2.3: low = floor(10.47) = 10, high = ceil(22.51) = 23 for dim 64, base 1e4.
        plain, _ = layers.rope_inv_freq(64, 10000.0)
        yarn, mag = layers.rope_inv_freq(64, 10000.0, self.V3)
        np.testing.assert_allclose(yarn[:11], plain[:11], rtol=1e-15)
        np.testing.assert_allclose(yarn[23:], plain[23:] / 40, rtol=1e-15)
        mid = (np.arange(11, 23) - 10) / 13  # ramp inside (10, 23)
        np.testing.assert_allclose(yarn[11:23], plain[11:23] / 40 * mid + plain[11:23] * (1 - mid), rtol=1e-14)
        self.assertAlmostEqual(mag, 0.1 * math.log(40) + 1, places=15)  # HF default attention_factor

    def test_v3_softmax_scale_numbers(self):
        m = layers.yarn_get_mscale(40.0, 1.0)
        self.assertAlmostEqual(m, 1.3688879, places=6)
        self.assertAlmostEqual(m * m / math.sqrt(192), 0.13523378, places=7)
        self.assertEqual(layers.yarn_get_mscale(1.0, 1.0), 1.0)


class Attention(unittest.TestCase):
    def test_matches_per_query_loop(self):
        rng = np.random.default_rng(2)
        q, k, v = rng.standard_normal((5, 4, 3)), rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 6))
        out = layers.causal_attention(q, k, v, 0.7)
        for t in range(5):
            for h in range(4):
                kv = h // 2  # 4 query heads share 2 kv heads in pairs
                s = np.array([q[t, h] @ k[j, kv] * 0.7 for j in range(t + 1)])
                p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
                np.testing.assert_allclose(out[t, h], p @ v[: t + 1, kv], rtol=1e-12)

    def test_first_token_sees_only_itself(self):
        rng = np.random.default_rng(3)
        q, k, v = rng.standard_normal((3, 1, 2)), rng.standard_normal((3, 1, 2)), rng.standard_normal((3, 1, 2))
        np.testing.assert_allclose(layers.causal_attention(q, k, v, 1.0)[0], v[0], rtol=1e-15)


if __name__ == "__main__":
    unittest.main()
