#!/usr/bin/python3
"""End-to-end tests of `moxie run`, `moxie chat`, `moxie bench` and `moxie perplexity`,
driving the binary on tiny synthetic models of every architecture.

Oracles: the numpy reference forwards in tools/ref/models (greedy tokens, logprobs,
perplexity), Python's jinja2 (the --chat prompt), and a pseudo-terminal for chat (pty).

    MOXIE_BIN=build/moxie /usr/bin/python3 -m unittest tests/e2e/cli/test_generation_cli.py
"""
import json
import math
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "ref"))
import gguf  # noqa: E402  (tools/ref)
from models import load_from_gguf  # noqa: E402

MOXIE = os.environ.get("MOXIE_BIN", os.path.join(ROOT, "build", "moxie"))
ARCHS = ["qwen3moe", "qwen2moe", "deepseek2", "llama", "qwen2", "qwen3"]
TIMEOUT = float(os.environ.get("MOXIE_E2E_TIMEOUT", "120"))  # generous: sanitizer builds are slow


def moxie(*args, check=True):
    p = subprocess.run([MOXIE, *args], capture_output=True, timeout=TIMEOUT)
    if check and p.returncode != 0:
        raise AssertionError(f"moxie {' '.join(args)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
    return p


def log_softmax(row):
    row = row.astype(np.float64)
    m = row.max()
    return row - m - math.log(np.exp(row - m).sum())


class Models:
    """Synthetic tiny models, written once per test run."""
    dir = None
    paths = {}

    @classmethod
    def get(cls, arch):
        if cls.dir is None:
            cls.dir = tempfile.mkdtemp(prefix="moxie-cli-e2e-")
        if arch not in cls.paths:
            path = os.path.join(cls.dir, arch + ".gguf")
            moxie("synth", "--arch", arch, "--preset", "tiny", "-o", path, "-t", "1")
            cls.paths[arch] = path
        return cls.paths[arch]

    @classmethod
    def cleanup(cls):
        if cls.dir:
            shutil.rmtree(cls.dir, ignore_errors=True)


def tearDownModule():
    Models.cleanup()


class RunTest(unittest.TestCase):
    def test_greedy_tokens_and_logprobs_match_the_numpy_reference_for_every_arch(self):
        for arch in ARCHS:
            with self.subTest(arch=arch):
                path = Models.get(arch)
                out = json.loads(moxie("run", "-m", path, "-p", "The model reads", "-n", "6", "--temp", "0",
                                       "--ignore-eos", "--json", "-t", "1").stdout)
                prompt, tokens = out["prompt_tokens"], out["tokens"]
                self.assertEqual(len(tokens), 6)
                self.assertEqual(out["finish_reason"], "length")
                logits = load_from_gguf(path).forward(prompt + tokens[:-1])
                for i, entry in enumerate(out["logprobs"]):
                    ref = log_softmax(logits[len(prompt) - 1 + i])
                    tok = tokens[i]
                    # greedy: moxie's token is the reference's argmax up to float noise
                    self.assertLess(ref.max() - ref[tok], 1e-3, f"step {i}: token {tok} vs argmax {ref.argmax()}")
                    self.assertAlmostEqual(entry["logprob"], ref[tok], delta=1e-3)
                    self.assertEqual(len(entry["top_logprobs"]), 5)
                    top = [t["token"] for t in entry["top_logprobs"]]
                    self.assertEqual(top[0], tok)
                    for alt in entry["top_logprobs"]:
                        self.assertAlmostEqual(alt["logprob"], ref[alt["token"]], delta=1e-3)

    def test_streamed_text_is_the_json_text_and_stats_go_to_stderr(self):
        path = Models.get("qwen3moe")
        args = ["run", "-m", path, "-p", "Hello world", "-n", "12", "--temp", "0.7", "--seed", "5", "--ignore-eos"]
        streamed = moxie(*args)
        as_json = json.loads(moxie(*args, "--json").stdout)
        self.assertEqual(streamed.stdout.decode(), as_json["text"] + "\n")
        err = streamed.stderr.decode()
        self.assertIn("load", err)
        self.assertIn("tokens/s", err)
        self.assertRegex(err, r"generation 12 tokens")

    def test_seed_makes_sampling_reproducible(self):
        path = Models.get("llama")
        args = ["run", "-m", path, "-p", "eight", "-n", "10", "--temp", "1.5", "--top-k", "0", "--top-p", "1",
                "--min-p", "0", "--ignore-eos", "--json"]
        a = json.loads(moxie(*args, "--seed", "1").stdout)["tokens"]
        b = json.loads(moxie(*args, "--seed", "1").stdout)["tokens"]
        c = json.loads(moxie(*args, "--seed", "2").stdout)["tokens"]
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)

    def test_stop_string_cuts_the_text(self):
        path = Models.get("qwen2")
        base = ["run", "-m", path, "-p", "the numbers", "-n", "30", "--temp", "0", "--ignore-eos", "--json"]
        full = json.loads(moxie(*base).stdout)["text"]
        ascii_runs = [i for i in range(4, len(full) - 2) if full[i:i + 2].isascii() and full[i:i + 2].isprintable()]
        self.assertTrue(ascii_runs, full)
        stop = full[ascii_runs[0]:ascii_runs[0] + 2]
        cut = json.loads(moxie(*base, "--stop", stop).stdout)
        self.assertEqual(cut["finish_reason"], "stop_string")
        self.assertEqual(cut["text"], full[:full.index(stop)])

    def test_chat_prompt_is_the_jinja2_rendering_of_the_file_template(self):
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        for arch in ["qwen3moe", "deepseek2"]:
            with self.subTest(arch=arch):
                path = Models.get(arch)
                meta, _ = gguf.read(path)
                tokens = meta["tokenizer.ggml.tokens"]
                env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
                messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
                want = env.from_string(meta["tokenizer.chat_template"]).render(
                    messages=messages, add_generation_prompt=True,
                    bos_token=tokens[meta["tokenizer.ggml.bos_token_id"]],
                    eos_token=tokens[meta["tokenizer.ggml.eos_token_id"]])
                out = json.loads(moxie("run", "-m", path, "--chat", "--system", "Be brief.", "-p", "Hi there",
                                       "-n", "3", "--temp", "0", "--json").stdout)
                self.assertEqual(out["prompt"], want)

    def test_bad_arguments_and_bad_files_are_clear_errors(self):
        path = Models.get("qwen3moe")
        junk = os.path.join(Models.dir, "junk.gguf")
        with open(junk, "wb") as f:
            f.write(b"this is not a gguf file at all")
        cases = [
            (["run", "-m", os.path.join(Models.dir, "missing.gguf"), "-p", "x"], "missing.gguf"),
            (["run", "-m", junk, "-p", "x"], "junk.gguf"),
            (["run", "-m", path], "-p/--prompt"),
            (["run", "-m", path, "-p", "x", "--temp", "-1"], "temperature"),
            (["run", "-m", path, "-p", "x", "--top-p", "0"], "top_p"),
            (["run", "-m", path, "-p", "x", "-n", "-5"], "n-predict"),
            (["run", "-m", path, "-p", "x", "--system", "s"], "--chat"),
            (["run", "-m", path, "-f", os.path.join(Models.dir, "nofile.txt")], "nofile.txt"),
            (["run", "-m", path, "-p", "x" * 2000, "-c", "16"], "context"),
            (["chat", "-m", os.path.join(Models.dir, "missing.gguf")], "missing.gguf"),
            (["bench", "-m", path, "-o", "xml"], "md, csv or json"),
            (["bench", "-m", path, "-r", "0"], "repetitions"),
            (["perplexity", "-m", path, "-f", os.path.join(Models.dir, "nofile.txt")], "nofile.txt"),
        ]
        for args, needle in cases:
            with self.subTest(args=args[:1] + args[3:]):
                p = moxie(*args, check=False)
                err = p.stderr.decode(errors="replace")
                self.assertEqual(p.returncode, 1, err)
                self.assertIn("moxie: error:", err)
                self.assertIn(needle, err)
        # CLI11's own parse errors (unknown option, missing value) exit non-zero with usage, no crash.
        for args in (["run", "-m", path, "-p", "x", "--no-such-option"], ["run", "-m", path, "-p"],
                     ["run", "-m", path, "-p", "x", "--cache-type", "q4"]):
            p = moxie(*args, check=False)
            self.assertGreater(p.returncode, 0)
        # An unknown cache type names the accepted ones, q8 among them.
        err = moxie("bench", "-m", path, "--cache-type", "q8_0", check=False).stderr.decode(errors="replace")
        for name in ("q8_0", "f16", "f32", "q8"):
            self.assertIn(name, err)
        # A bad MLA form override is an error naming the variable, not a silent default.
        env = dict(os.environ, MOXIE_MLA_FORM="absorbd")
        p = subprocess.run([MOXIE, "run", "-m", Models.get("deepseek2"), "-p", "x", "-n", "1"], env=env,
                           capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"MOXIE_MLA_FORM=absorbd", p.stderr)

    def test_f32_f16_and_q8_caches_agree_with_the_numpy_reference(self):
        path = Models.get("qwen3")
        # f16 rounds cached K and V (relative 2^-11): logprobs within 1e-3 (measured up to
        # 5.4e-4 over the top-5 of every tiny GQA model). q8 keeps int8 with one scale per head
        # (an error of up to 1/254 of a head's largest element): measured up to 1.1e-2 on qwen3
        # (2.1e-2 over the top-5 of every tiny GQA model), so 4e-2.
        delta = {"f32": 1e-3, "f16": 1e-3, "q8": 4e-2}
        logprobs = {}
        for cache in ("f32", "f16", "q8"):
            with self.subTest(cache=cache):
                out = json.loads(moxie("run", "-m", path, "-p", "The model reads", "-n", "4", "--temp", "0",
                                       "--ignore-eos", "--json", "-t", "1", "--cache-type", cache).stdout)
                logits = load_from_gguf(path).forward(out["prompt_tokens"] + out["tokens"][:-1])
                for i, entry in enumerate(out["logprobs"]):
                    ref = log_softmax(logits[len(out["prompt_tokens"]) - 1 + i])
                    self.assertLess(ref.max() - ref[out["tokens"][i]], delta[cache], f"step {i}: not the argmax")
                    self.assertAlmostEqual(entry["logprob"], ref[out["tokens"][i]], delta=delta[cache])
                    for alt in entry["top_logprobs"]:
                        self.assertAlmostEqual(alt["logprob"], ref[alt["token"]], delta=delta[cache])
                logprobs[cache] = [t["logprob"] for e in out["logprobs"] for t in e["top_logprobs"]]
        # q8 really is another cache than f32 (its logprobs moved by about 1e-2, f16's by 1e-4).
        self.assertEqual(len(logprobs["q8"]), len(logprobs["f32"]))
        self.assertGreater(max(abs(a - b) for a, b in zip(logprobs["q8"], logprobs["f32"])), 1e-3)
        # DeepSeek (MLA) keeps its f32 latent cache whatever is asked: the same answer as f32.
        mla = Models.get("deepseek2")
        args = ["run", "-m", mla, "-p", "The model reads", "-n", "4", "--temp", "0", "--ignore-eos", "--json",
                "-t", "1", "--cache-type"]
        self.assertEqual(json.loads(moxie(*args, "q8").stdout)["logprobs"],
                         json.loads(moxie(*args, "f32").stdout)["logprobs"])


class BenchTest(unittest.TestCase):
    def test_json_csv_and_markdown(self):
        path = Models.get("qwen3moe")
        rows = json.loads(moxie("bench", "-m", path, "-p", "16,8", "-n", "4", "-t", "1,2", "-r", "2", "-o",
                                "json").stdout)
        self.assertEqual([(r["test"], r["n_threads"]) for r in rows],
                         [("pp16", 1), ("pp8", 1), ("tg4", 1), ("pp16", 2), ("pp8", 2), ("tg4", 2)])
        for r in rows:
            self.assertEqual((r["type_k"], r["type_v"]), ("f16", "f16"))  # the default cache, as llama-bench says it
            self.assertEqual(len(r["samples_ts"]), 2)
            self.assertTrue(all(s > 0 for s in r["samples_ts"]))
            self.assertAlmostEqual(r["avg_ts"], sum(r["samples_ts"]) / 2, delta=1e-6 * r["avg_ts"])
            self.assertAlmostEqual(r["stddev_ts"], float(np.std(r["samples_ts"], ddof=1)),
                                   delta=1e-6 * r["avg_ts"] + 1e-9)
        f32 = json.loads(moxie("bench", "-m", path, "-p", "0", "-n", "2", "-r", "1", "--cache-type", "f32", "-o",
                               "json").stdout)
        self.assertEqual(f32[0]["type_k"], "f32")
        q8 = json.loads(moxie("bench", "-m", path, "-p", "8", "-n", "2", "-r", "1", "--cache-type", "q8", "-o",
                              "json").stdout)
        self.assertEqual([(r["test"], r["type_k"], r["type_v"]) for r in q8],
                         [("pp8", "q8", "q8"), ("tg2", "q8", "q8")])
        self.assertTrue(all(r["avg_ts"] > 0 for r in q8))
        mla = json.loads(moxie("bench", "-m", Models.get("deepseek2"), "-p", "0", "-n", "2", "-r", "1", "-o",
                               "json").stdout)
        self.assertEqual(mla[0]["type_k"], "f32")  # MLA latents stay f32 whatever is asked
        mla = json.loads(moxie("bench", "-m", Models.get("deepseek2"), "-p", "0", "-n", "2", "-r", "1",
                               "--cache-type", "q8", "-o", "json").stdout)
        self.assertEqual((mla[0]["type_k"], mla[0]["type_v"]), ("f32", "f32"))
        md = moxie("bench", "-m", path, "-p", "8", "-n", "2", "-r", "1").stdout.decode().splitlines()
        self.assertEqual([c.strip() for c in md[0].strip("|").split("|")],
                         ["model", "size", "params", "backend", "threads", "test", "t/s"])
        self.assertEqual([c.strip() for c in md[2].strip("|").split("|")][5], "pp8")
        self.assertIn("±", md[3])
        csv = moxie("bench", "-m", path, "-p", "8", "-n", "0", "-r", "1", "-o", "csv").stdout.decode().splitlines()
        self.assertEqual(len(csv), 2)
        self.assertTrue(csv[0].startswith("model_type,"))
        self.assertEqual(dict(zip(csv[0].split(","), csv[1].split(",")))["type_k"], "f16")
        # Like llama-bench: the table names the cache types only when they are not f16; CSV always.
        md = moxie("bench", "-m", path, "-p", "8", "-n", "0", "-r", "1", "--cache-type", "q8").stdout.decode()
        header, _, row = md.splitlines()
        cells = dict(zip([c.strip() for c in header.strip("|").split("|")], [c.strip() for c in row.strip("|").split("|")]))
        self.assertEqual((cells["type_k"], cells["type_v"], cells["test"]), ("q8", "q8", "pp8"))
        csv = moxie("bench", "-m", path, "-p", "8", "-n", "0", "-r", "1", "-o", "csv", "--cache-type", "q8")
        header, row = csv.stdout.decode().splitlines()
        self.assertEqual(dict(zip(header.split(","), row.split(",")))["type_v"], "q8")

    def test_depth_fills_the_cache_first(self):
        # llama-bench's -d: tests at each depth, named "tg4 @ d24", n_depth in JSON and CSV;
        # threads outermost, then depth, then pp before tg (llama-bench's order).
        path = Models.get("qwen3moe")
        rows = json.loads(moxie("bench", "-m", path, "-p", "8", "-n", "4", "-d", "0,24", "-t", "1,2", "-r", "2",
                                "-o", "json").stdout)
        self.assertEqual([(r["test"], r["n_threads"], r["n_depth"]) for r in rows],
                         [("pp8", 1, 0), ("tg4", 1, 0), ("pp8 @ d24", 1, 24), ("tg4 @ d24", 1, 24),
                          ("pp8", 2, 0), ("tg4", 2, 0), ("pp8 @ d24", 2, 24), ("tg4 @ d24", 2, 24)])
        for r in rows:
            self.assertEqual((r["type_k"], r["type_v"]), ("f16", "f16"))  # the default cache, as llama-bench says it
            self.assertEqual(len(r["samples_ts"]), 2)
            self.assertTrue(all(s > 0 for s in r["samples_ts"]))
        md = moxie("bench", "-m", path, "-p", "0", "-n", "2", "-d", "16", "-r", "1").stdout.decode().splitlines()
        self.assertEqual([c.strip() for c in md[2].strip("|").split("|")][5], "tg2 @ d16")
        csv = moxie("bench", "-m", path, "-p", "0", "-n", "2", "-d", "16", "-r", "1", "-o", "csv").stdout.decode()
        header, row = csv.splitlines()
        self.assertEqual(dict(zip(header.split(","), row.split(",")))["n_depth"], "16")
        p = moxie("bench", "-m", path, "-p", "0", "-n", "2", "-d", "-1", "-r", "1", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("-d/--n-depth", p.stderr.decode())


class PerplexityTest(unittest.TestCase):
    def test_matches_the_numpy_reference(self):
        path = Models.get("qwen3moe")
        text = os.path.join(Models.dir, "text.txt")
        words = "the model of a turn read eight sign are and with for it on that".split()
        rng = np.random.default_rng(3)
        with open(text, "w") as f:
            f.write(" ".join(words[i] for i in rng.integers(0, len(words), 200)))
        out = json.loads(moxie("perplexity", "-m", path, "-f", text, "-c", "32", "--chunks", "3", "--json").stdout)
        n_ctx, tokens, bos = out["n_ctx"], out["tokens"], out["bos_id"]
        ref_model = load_from_gguf(path)
        nll, count = [], 0
        for w in range(3):
            window = tokens[w * n_ctx:(w + 1) * n_ctx]
            if bos >= 0:
                window = [bos] + window[1:]
            logits = ref_model.forward(window)
            window_nll = 0.0
            for j in range(n_ctx // 2, n_ctx - 1):
                window_nll -= log_softmax(logits[j])[tokens[w * n_ctx + j + 1]]
                count += 1
            nll.append(window_nll)
            self.assertAlmostEqual(out["windows"][w]["nll_sum"], window_nll, delta=1e-4 * abs(window_nll))
        self.assertEqual(out["n_scored"], count)
        self.assertAlmostEqual(out["ppl"], math.exp(sum(nll) / count), delta=1e-4 * out["ppl"])
        plain = moxie("perplexity", "-m", path, "-f", text, "-c", "32", "--chunks", "3").stdout.decode()
        self.assertIn("Final estimate: PPL = %.4f" % out["ppl"], plain)
        self.assertTrue(plain.startswith("[1]"))


class Terminal:
    """moxie running in a pseudo-terminal, as a user sees it."""

    def __init__(self, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(MOXIE, [MOXIE, *args])
        self.buf = b""

    def read_until(self, needle, timeout=TIMEOUT):
        end = time.time() + timeout
        while needle not in self.buf:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, end - time.time()))
            if not ready:
                raise AssertionError(f"timed out waiting for {needle!r}; screen ends with {self.buf[-400:]!r}")
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"moxie exited while waiting for {needle!r}: {self.buf[-400:]!r}")
            self.buf += chunk
        i = self.buf.index(needle) + len(needle)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def send(self, data):
        os.write(self.fd, data)

    def wait(self, timeout=TIMEOUT):
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:  # keep draining so the child never blocks on a full terminal
                if select.select([self.fd], [], [], 0.05)[0]:
                    os.read(self.fd, 65536)
            except OSError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("moxie chat did not exit")


PROMPT = b"\n> "


class ChatTest(unittest.TestCase):
    def test_turns_commands_and_exit_for_every_arch(self):
        for arch in ARCHS:
            with self.subTest(arch=arch):
                t = Terminal("chat", "-m", Models.get(arch), "--temp", "0", "-n", "8", "-t", "1")
                banner = t.read_until(b"> ")
                self.assertIn(b"loading weights", banner)  # the progress bar (stderr is the terminal)
                self.assertIn(b"chat template", banner)
                t.send(b"Hello there\n")
                reply = t.read_until(PROMPT)
                self.assertTrue(reply.startswith(b"Hello there\r\n"), reply)  # the echo, then the answer
                t.send(b"And again\n")
                t.read_until(PROMPT)
                t.send(b"/stats\n")
                stats = t.read_until(PROMPT)
                self.assertIn(b"tokens/s", stats)
                self.assertIn(b"2 turns", stats)
                self.assertRegex(stats, rb"\(([1-9][0-9]*) cached\)")  # the second turn reused the first
                t.send(b"/reset\n")
                self.assertIn(b"conversation reset", t.read_until(PROMPT))
                t.send(b"/system You are terse.\n")
                self.assertIn(b"system message set", t.read_until(PROMPT))
                t.send(b"/bogus\n")
                self.assertIn(b"unknown command", t.read_until(PROMPT))
                t.send(b"/exit\n")
                self.assertEqual(t.wait(), 0)

    def test_ctrl_c_stops_the_answer_not_the_program(self):
        # A long context and no end tokens: the answer only ends when interrupted.
        t = Terminal("chat", "-m", Models.get("qwen3moe"), "--temp", "0", "--ignore-eos", "-c", "200000",
                     "-t", "1", "--no-warmup")
        t.read_until(b"> ")
        t.send(b"Tell me everything\n")
        t.read_until(b"Tell me everything\r\n")
        time.sleep(0.3)  # let it generate for a while
        t.send(b"\x03")  # Ctrl-C: the terminal turns it into SIGINT
        self.assertIn(b"(stopped)", t.read_until(PROMPT))
        t.send(b"/stats\n")
        stats = t.read_until(PROMPT)
        self.assertIn(b"1 turns", stats)
        t.send(b"\x03")  # at the prompt: a hint, still running
        self.assertIn(b"/exit", t.read_until(PROMPT))
        t.send(b"\x04")  # Ctrl-D quits
        self.assertEqual(t.wait(), 0)


if __name__ == "__main__":
    unittest.main()
