"""Byte-level BPE: trains merges on a text, encodes text with them, writes tokenizer.json.

The alphabet is GPT-2's byte-to-unicode map (every byte is one printable character), the
pre-tokenizer is Qwen2's split regex, and encoding applies the lowest-ranked merge first,
as Hugging Face tokenizers and moxie do, so the ids this file produces are the ids moxie
produces for the same (ASCII) text.

Python's `re` has no \\p{L}/\\p{N}; the pattern below spells them as [^\\W\\d_] and \\d, which is
exact for ASCII text (the corpus is checked to be ASCII) and close elsewhere.
"""
import collections
import json
import re

# Qwen2's pattern: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
#                  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
_LETTERS = r"[^\W\d_]"
_NOT_LETTER_OR_DIGIT_OR_NEWLINE = r"(?:[^\r\n\w]|_)"
_SYMBOL = r"(?:[^\s\w]|_)"
QWEN2_SPLIT = re.compile(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"
    rf"|{_NOT_LETTER_OR_DIGIT_OR_NEWLINE}?{_LETTERS}+"
    r"|\d"
    rf"| ?{_SYMBOL}+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Hugging Face's Qwen2 split regex, written into tokenizer.json.
QWEN2_SPLIT_HF = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def bytes_to_unicode():
    """GPT-2's map: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(keep, chars)}


BYTE_CHARS = bytes_to_unicode()


def pre_tokenize(text):
    """Words as byte-level strings (each byte shown as its GPT-2 character)."""
    return ["".join(BYTE_CHARS[b] for b in w.encode("utf-8")) for w in QWEN2_SPLIT.findall(text)]


def train(text, n_merges):
    """Returns the merge list [(left, right), ...], most frequent first (pair counts are
    updated incrementally: only the words holding the merged pair are recounted)."""
    word_counts = collections.Counter(pre_tokenize(text))
    words = [list(w) for w in word_counts]
    counts = list(word_counts.values())
    pair_counts = collections.Counter()
    pair_words = collections.defaultdict(set)
    for i, w in enumerate(words):
        for pair in zip(w, w[1:]):
            pair_counts[pair] += counts[i]
            pair_words[pair].add(i)
    merges = []
    for _ in range(n_merges):
        if not pair_counts:
            break
        # Ties broken by the pair itself so the result does not depend on dict order.
        best = max(pair_counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pair_counts[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for i in list(pair_words[best]):
            w = words[i]
            for pair in zip(w, w[1:]):
                pair_counts[pair] -= counts[i]
                if pair_counts[pair] <= 0:
                    del pair_counts[pair]
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for pair in zip(out, out[1:]):
                pair_counts[pair] += counts[i]
                pair_words[pair].add(i)
        del pair_words[best]
    return merges


class Tokenizer:
    """Byte-level BPE with the Qwen2 split; special tokens come after the merged vocabulary."""

    def __init__(self, merges):
        self.merges = list(merges)
        self.ranks = {pair: r for r, pair in enumerate(self.merges)}
        alphabet = [BYTE_CHARS[b] for b in range(256)]
        self.vocab = {}
        for t in alphabet + [a + b for a, b in self.merges]:
            self.vocab.setdefault(t, len(self.vocab))
        for t in SPECIAL_TOKENS:
            self.vocab[t] = len(self.vocab)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self._cache = {}

    @property
    def n_vocab(self):
        return len(self.vocab)

    def special_id(self, token):
        return self.vocab[token]

    def _encode_word(self, word):
        if word in self._cache:
            return self._cache[word]
        parts = list(word)
        while len(parts) > 1:
            ranked = [(self.ranks.get(p, 1 << 30), i) for i, p in enumerate(zip(parts, parts[1:]))]
            rank, i = min(ranked)
            if rank == 1 << 30:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        ids = [self.vocab[p] for p in parts]
        self._cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for w in pre_tokenize(text):
            ids.extend(self._encode_word(w))
        return ids

    def decode(self, ids):
        char_to_byte = {c: b for b, c in BYTE_CHARS.items()}
        out = bytearray()
        for i in ids:
            t = self.id_to_token[int(i)]
            if t in SPECIAL_TOKENS:
                out.extend(t.encode())
            else:
                out.extend(char_to_byte[c] for c in t)
        return out.decode("utf-8", errors="replace")

    def tokenizer_json(self):
        """A Hugging Face tokenizer.json (Qwen2-style: NFC, split + byte-level, BPE)."""
        added = [{"id": self.vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for t in SPECIAL_TOKENS]
        bpe_vocab = {t: i for t, i in self.vocab.items() if t not in SPECIAL_TOKENS}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT_HF}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
            "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                               "use_regex": False},
            "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": False, "vocab": bpe_vocab,
                      "merges": [f"{a} {b}" for a, b in self.merges]},
        }

    def tokenizer_config_json(self):
        return {
            "add_bos_token": False,
            "add_eos_token": False,
            "bos_token": None,
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "model_max_length": 256,
            "tokenizer_class": "Qwen2Tokenizer",
            "chat_template": CHATML_TEMPLATE,
        }

    def save(self, folder):
        with open(f"{folder}/tokenizer.json", "w", encoding="utf-8") as f:
            json.dump(self.tokenizer_json(), f, ensure_ascii=False)
        with open(f"{folder}/tokenizer_config.json", "w", encoding="utf-8") as f:
            json.dump(self.tokenizer_config_json(), f, ensure_ascii=False, indent=1)
