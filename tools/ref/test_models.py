"""Self-tests of the reference forwards on random tiny models (models/synthetic.py).
Run: cd tools/ref && /usr/bin/python3 -m unittest test_models
"""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from models import load_from_gguf, load_from_tensors, mla
from models.layers import apply_rope, rope_cos_sin, rope_inv_freq
from models.synthetic import F16, VARIANTS, random_model, tensor_entry, write_gguf

TOKENS = [3, 17, 5, 39, 0, 22, 8]


def replace(tensors, name, array):
    out = dict(tensors)
    out[name] = tensor_entry(np.asarray(array, dtype=np.float32))
    return out


def array(tensors, name):
    t, ne, raw = tensors[name]
    assert t == 0
    return np.frombuffer(raw, dtype="<f4").reshape(tuple(reversed(ne))).copy()


class Causality(unittest.TestCase):
    def test_earlier_logits_ignore_later_tokens(self):
        for variant in VARIANTS:
            with self.subTest(variant=variant):
                model = load_from_tensors(*random_model(variant, seed=1))
                base = model.forward(TOKENS)
                self.assertEqual(base.shape, (len(TOKENS), 40))
                self.assertEqual(base.dtype, np.float32)
                changed = model.forward(TOKENS[:4] + [11, 12, 13])
                np.testing.assert_array_equal(changed[:4], base[:4])
                self.assertGreater(np.abs(changed[4:] - base[4:]).max(), 1e-3)  # and later ones do change


class Mla(unittest.TestCase):
    def test_absorbed_equals_naive(self):
        for variant in ("deepseek2", "deepseek2-lite"):
            with self.subTest(variant=variant):
                model = load_from_tensors(*random_model(variant, seed=2))
                x = np.random.default_rng(3).standard_normal((6, 32))
                naive = mla.mla_attention_naive(x, model.weights, 1, model.config)
                absorbed = mla.mla_attention_absorbed(x, model.weights, 1, model.config)
                np.testing.assert_allclose(absorbed, naive, rtol=1e-11, atol=1e-12)
                np.testing.assert_allclose(model.forward(TOKENS, absorbed=True), model.forward(TOKENS), rtol=1e-5)

    def test_legacy_kv_b_gives_the_same_logits(self):
        # Undo the converter's split: kv_b[h] = [W_UK[h] (nope rows); W_UV[h] (v rows)], [H*(nope+v), kv_lora].
        md, tensors = random_model("deepseek2", seed=4)
        legacy = dict(tensors)
        for i in range(3):
            k_b_t, v_b = array(tensors, f"blk.{i}.attn_k_b.weight"), array(tensors, f"blk.{i}.attn_v_b.weight")
            kv_b = np.concatenate([np.swapaxes(k_b_t, 1, 2), v_b], axis=1).reshape(-1, k_b_t.shape[1])
            legacy = replace(legacy, f"blk.{i}.attn_kv_b.weight", kv_b)
            del legacy[f"blk.{i}.attn_k_b.weight"], legacy[f"blk.{i}.attn_v_b.weight"]
        legacy_md = {k: v for k, v in md.items() if not k.endswith("_mla")}
        legacy_md["deepseek2.attention.key_length"], legacy_md["deepseek2.attention.value_length"] = 12, 6
        a = load_from_tensors(md, tensors).forward(TOKENS)
        b = load_from_tensors(legacy_md, legacy).forward(TOKENS)
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)

    def test_interleaved_rope_matches_hf_rope_interleave(self):
        # HF DeepseekV3 (rope_interleave=True): view(d/2, 2).transpose -> [x0,x2,..,x1,x3,..], then
        # rotate_half with cos/sin = cat(freqs, freqs). Scores q.k must equal ours ("norm" pairs).
        rng = np.random.default_rng(5)
        q, k = rng.standard_normal((6, 3, 8)), rng.standard_normal((6, 1, 8))
        inv, _ = rope_inv_freq(8, 10000.0, {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16})
        cos, sin = rope_cos_sin(np.arange(6), inv)

        def hf_interleave(x):
            x = x.reshape(*x.shape[:-1], 4, 2).swapaxes(-1, -2).reshape(x.shape)
            c, s = np.concatenate([cos, cos], -1)[:, None], np.concatenate([sin, sin], -1)[:, None]
            rotated = np.concatenate([-x[..., 4:], x[..., :4]], axis=-1)
            return x * c + rotated * s

        ours = np.einsum("thd,sd->hts", apply_rope(q, cos, sin, "norm"), apply_rope(k, cos, sin, "norm")[:, 0])
        hf = np.einsum("thd,sd->hts", hf_interleave(q), hf_interleave(k)[:, 0])
        np.testing.assert_allclose(ours, hf, rtol=1e-12, atol=1e-12)

    def test_config_from_metadata(self):
        v3 = load_from_tensors(*random_model("deepseek2")).config
        self.assertEqual((v3["q_lora_rank"], v3["kv_lora_rank"], v3["qk_nope_head_dim"], v3["qk_rope_head_dim"],
                          v3["v_head_dim"]), (16, 12, 8, 4, 6))
        self.assertEqual((v3["gating"], v3["n_group"], v3["topk_group"], v3["first_k_dense_replace"]),
                         ("sigmoid", 4, 2, 1))
        self.assertAlmostEqual(v3["mscale_all_dim"], 1.0)
        self.assertAlmostEqual(mla.softmax_scale(v3), (0.1 * np.log(4.0) + 1) ** 2 / np.sqrt(12))
        lite = load_from_tensors(*random_model("deepseek2-lite")).config
        self.assertEqual((lite["gating"], lite["q_lora_rank"], lite["rope_scaling"]), ("softmax", 0, None))
        self.assertAlmostEqual(mla.softmax_scale(lite), 1 / np.sqrt(12))


class RopeConventions(unittest.TestCase):
    def permute_like_converter(self, w, n_head):
        """llama.cpp LlamaModel.permute: reshape(n_head, 2, d/2, in).swapaxes(1, 2)."""
        return w.reshape(n_head, 2, w.shape[0] // n_head // 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)

    def test_llama_gguf_weights_reproduce_hf_logits(self):
        for variant in ("llama", "mixtral"):
            with self.subTest(variant=variant):
                md, hf = random_model(variant, seed=6)  # read as HF-layout weights
                hf_model = load_from_tensors(md, hf)
                hf_model.config["rope_style"] = "neox"  # HF rotate_half on unpermuted rows
                converted = dict(hf)
                for i in range(2):
                    for name, n in ((f"blk.{i}.attn_q.weight", 4), (f"blk.{i}.attn_k.weight", 2)):
                        converted = replace(converted, name, self.permute_like_converter(array(hf, name), n))
                gguf_model = load_from_tensors(md, converted)
                self.assertEqual(gguf_model.config["rope_style"], "norm")
                np.testing.assert_allclose(gguf_model.forward(TOKENS), hf_model.forward(TOKENS), rtol=1e-5, atol=1e-5)
                # ...and the wrong convention would not: the test can fail.
                hf_model.config["rope_style"] = "norm"
                self.assertGreater(np.abs(gguf_model.forward(TOKENS) - hf_model.forward(TOKENS)).max(), 1e-3)


class QwenSpecifics(unittest.TestCase):
    def test_qk_norm_is_per_head(self):
        # Scaling one head's q rows is undone by Qwen3's per-head q RMSNorm, not by Qwen2 (no norm).
        for variant, invariant in (("qwen3moe", True), ("qwen2", False)):
            with self.subTest(variant=variant):
                md, tensors = random_model(variant, seed=7)
                q = array(tensors, "blk.0.attn_q.weight")
                head_dim = q.shape[0] // 4
                q[:head_dim] *= 3.0
                a = load_from_tensors(md, tensors).forward(TOKENS)
                b = load_from_tensors(md, replace(tensors, "blk.0.attn_q.weight", q)).forward(TOKENS)
                if invariant:
                    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
                else:
                    self.assertGreater(np.abs(b - a).max(), 1e-3)

    def test_qwen2moe_shared_expert_gate_is_a_sigmoid(self):
        md, tensors = random_model("qwen2moe", seed=8)
        zero_gate = replace(tensors, "blk.1.ffn_gate_inp_shexp.weight", np.zeros(32))
        no_gate = dict(tensors)
        del no_gate["blk.1.ffn_gate_inp_shexp.weight"]
        no_shared = {k: v for k, v in no_gate.items() if "shexp" not in k}
        x = np.random.default_rng(9).standard_normal((3, 32))
        from models import moe
        from models.qwen import router_spec
        out = {}
        for name, t in (("zero", zero_gate), ("ungated", no_gate), ("routed", no_shared)):
            m = load_from_tensors(md, t)
            out[name] = moe.moe_ffn(x, m.weights, 1, router_spec(m.config))
        np.testing.assert_allclose(out["zero"] - out["routed"], 0.5 * (out["ungated"] - out["routed"]), rtol=1e-12)

    def test_dense_layer_detected_by_tensors(self):
        model = load_from_tensors(*random_model("qwen2moe"))
        trace = {}
        model.forward(TOKENS, trace=trace)
        self.assertNotIn("ffn_moe_experts-0", trace)  # layer 0 is dense (mlp_only_layers)
        self.assertEqual(trace["ffn_moe_experts-1"].shape, (len(TOKENS), 2))


class GgufFile(unittest.TestCase):
    def test_round_trip_through_gguf_py(self):
        md, tensors = random_model("qwen3moe", seed=10, type_id=F16)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tiny.gguf")
            write_gguf(path, md, tensors)
            from_file = load_from_gguf(path)
            self.assertEqual(from_file.weights.ne("blk.0.ffn_gate_exps.weight"), (32, 12, 6))
            self.assertEqual(from_file.weights["blk.0.ffn_gate_exps.weight"].shape, (6, 12, 32))
            np.testing.assert_allclose(from_file.forward(TOKENS), load_from_tensors(md, tensors).forward(TOKENS),
                                       rtol=1e-5, atol=1e-5)

    def test_command_line(self):
        md, tensors = random_model("deepseek2", seed=11)
        with tempfile.TemporaryDirectory() as tmp:
            path, out = os.path.join(tmp, "tiny.gguf"), os.path.join(tmp, "logits.npy")
            write_gguf(path, md, tensors)
            here = os.path.dirname(os.path.abspath(__file__))
            run = subprocess.run([sys.executable, "-m", "models", path, "--tokens", "3,17,5", "--out", out],
                                 cwd=here, check=True, capture_output=True, text=True)
            expect = load_from_gguf(path).forward([3, 17, 5])
            np.testing.assert_array_equal(np.load(out), expect)
            self.assertIn("argmax: " + ",".join(str(i) for i in expect.argmax(-1)), run.stdout)

    def test_unknown_architecture_is_refused(self):
        md, tensors = random_model("llama")
        md["general.architecture"] = "gpt2"
        with self.assertRaisesRegex(ValueError, "gpt2"):
            load_from_tensors(md, tensors)

    def test_missing_key_is_named(self):
        md, tensors = random_model("qwen3moe")
        del md["qwen3moe.block_count"]
        with self.assertRaisesRegex(KeyError, "qwen3moe.block_count"):
            load_from_tensors(md, tensors)


if __name__ == "__main__":
    unittest.main()
