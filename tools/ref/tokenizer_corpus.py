#!/usr/bin/python3
"""Writes tests/golden/tokenizer/corpus.jsonl: the seeded text corpus the tokenizer
oracle test runs on (one JSON string per line after the '#' header).

Covers English, French (composed and decomposed accents), Chinese, Japanese, Korean,
Arabic, Hindi, emoji with ZWJ sequences and skin tones, source code with tabs, numbers
of every length, contractions in both cases, whitespace and newline runs (\\r\\n too),
URLs, JSON, very long words, special-token text and seeded random Unicode (code points
assigned in Unicode 15.0, from Debian's unicode-data). Deterministic: same output every run.
"""
import json
import os
import random
import unicodedata

SEED = 20240611
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "tokenizer", "corpus.jsonl")

ENGLISH = ("the quick brown fox jumps over lazy dog while engineers measure throughput of "
           "mixture experts models running on commodity processors and servers across every "
           "continent tokenizer vocabulary merges whitespace Hello World OpenAI Qwen DeepSeek "
           "LLAMA GPT iPhone McDonald camelCase snake_case HTTPRequest XMLHttpRequest").split()
FRENCH = ("l'été où garçon naïve déjà vu crème brûlée façade œuvre Noël "
          "aujourd'hui qu'il s'était à côté très élève forêt hôtel maïs").split()
CHINESE = ["我们", "今天", "天气", "很好", "模型", "专家", "混合", "推理", "中文", "分词器", "测试",
           "龥", "𠀀", "的", "是", "，", "。", "、", "《", "》"]
JAPANESE = ["こんにちは", "世界", "カタカナ", "ひらがな", "東京", "ですか", "ー", "々", "・",
            "日本語のテキスト", "ｶﾀｶﾅ", "〇"]
KOREAN = ["안녕하세요", "세계", "한국어", "토크나이저", "테스트", "입니다", "각", "ㄱㄴㄷ"]
ARABIC = ["مرحبا", "بالعالم", "العربية", "اختبار", "٠١٢٣٤٥٦٧٨٩", "كِتَابٌ", "؟", "،"]
HINDI = ["नमस्ते", "दुनिया", "हिन्दी", "परीक्षण", "क्षत्रिय", "०१२३४५६७८९", "।"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏿‍💻", "❤️", "🇫🇷", "🧑🏻‍🤝‍🧑🏾", "✊🏼",
         "1️⃣", "🫠", "😶‍🌫️", "🐈‍⬛", "©", "™"]
CONTRACTIONS = ["don't", "DON'T", "it's", "IT'S", "I'm", "I'M", "we'll", "WE'LL", "you've",
                "YOU'VE", "they're", "THEY'RE", "he'd", "HE'D", "'s", "'S", "'t", "'Ll", "'rE",
                "can’t", "o'clock", "rock'n'roll", "'ſ", "x'ſ", "'tis", "y'all", "DoN'T", "It'S"]
SPACES = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", "\r", " \n ",
          "\u00a0", "\u3000", "\u2028", "\u2029", "\u0085", "\u200b", "\u2003", " \t \n",
          "\n \n  \n", "\x0b", "\x0c"]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>",
            "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
            "<|reserved_special_token_5|>", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
            "<｜User｜>", "<｜Assistant｜>", "<|start|>", "<|message|>", "<|channel|>", "<|return|>",
            "<|startoftext|>", "<|im_start", "im_end|>", "<|<|im_end|>|>", "<|fim_prefix|>"]
CODE = [
    "def f(x):\n\treturn x ** 2  # square\n",
    "int main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "for (let i = 0; i < n; ++i) {\n\t\tsum += a[i] * b[i];\n\t}",
    "    if err != nil {\n        return nil, fmt.Errorf(\"open %s: %w\", path, err)\n    }\n",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "#include <vector>\nstd::vector<int> v{1, 2, 3};\n",
    "x=>x+1; a&&b||!c; i++; j--; k<<=2; m>>>=1; p->q; r::s; /* c */ // d",
    "<div class=\"a\">\n  <span>Hi</span>\n</div>",
    "$ ls -la /usr/local/bin | grep -E '^d' > out.txt 2>&1",
]
URLS = ["https://example.com/path/to/page?q=moe&lang=en#section-2",
        "http://localhost:8080/v1/chat/completions", "ftp://files.example.org/pub/file.tar.gz",
        "https://zh.wikipedia.org/wiki/中文", "mailto:someone@example.com",
        "https://github.com/huggingface/tokenizers/blob/main/README.md"]
COMBINING = ["e\u0301", "a\u0308", "o\u0302\u0323", "\u1e0b\u0323", "\u0071\u0307\u0323",
             "A\u030a", "\u212b", "\u1100\u1161\u11a8", "\u1100\u1161", "\uac00\u11a8",
             "n\u0303", "i\u0307\u0301", "\u0915\u093c", "\u00e9\u0301", "\u0301abc",
             "\u05d0\u05b8", "\u0626\u0654", "\u2126", "\u1f71", "\u0344", "\u0f73", "e\u0327\u0301"]


def assigned_code_points():
    cps = []
    with open("/usr/share/unicode/UnicodeData.txt", encoding="utf-8") as f:
        first = None
        for line in f:
            fields = line.split(";")
            cp = int(fields[0], 16)
            if fields[1].endswith("First>"):
                first = cp
                continue
            lo = first if fields[1].endswith("Last>") else cp
            first = None
            if fields[2] in ("Cs",):
                continue
            cps.extend(range(lo, cp + 1) if cp - lo < 5000 else range(lo, lo + 5000))
    return cps


def numbers(rng):
    out = []
    for n in range(1, 41):
        digits = "".join(rng.choice("0123456789") for _ in range(n))
        out.append(digits)
        out.append(f"x{digits}y")
        out.append(f" {digits} ")
    out += ["3.14159", "-42", "1,000,000", "1e-9", "0x7FFF", "12:30:45", "2024-06-11",
            "١٢٣٤", "１２３４５", "²³", "Ⅻ", "½", "①②③", "10%", "$5.99", "v1.2.3", "१२३"]
    return out


def phrase(rng, words, sep=" ", lo=3, hi=12):
    return sep.join(rng.choice(words) for _ in range(rng.randint(lo, hi)))


def mixed(rng):
    pools = [ENGLISH, FRENCH, CHINESE, JAPANESE, KOREAN, ARABIC, HINDI, EMOJI, CONTRACTIONS,
             SPACES, SPECIALS, COMBINING, URLS]
    return "".join(rng.choice(rng.choice(pools)) + rng.choice(["", " ", "", "\n", ", "])
                   for _ in range(rng.randint(2, 14)))


def random_unicode(rng, cps):
    return "".join(chr(rng.choice(cps)) if rng.random() < 0.8 else rng.choice(" \n\t'0aA")
                   for _ in range(rng.randint(1, 40)))


def json_text(rng):
    obj = {"id": rng.randint(0, 10**9), "name": phrase(rng, ENGLISH, " ", 1, 3),
           "tags": [rng.choice(CHINESE), rng.choice(EMOJI)], "ok": rng.random() < 0.5,
           "score": round(rng.random() * 100, 3), "nested": {"k": None, "s": "a\\\"b\\n"}}
    return json.dumps(obj, ensure_ascii=rng.random() < 0.3, indent=rng.choice([None, 2, "\t"]))


def build():
    rng = random.Random(SEED)
    cps = assigned_code_points()
    corpus = []
    languages = [(ENGLISH, " "), (FRENCH, " "), (CHINESE, ""), (JAPANESE, ""), (KOREAN, " "),
                 (ARABIC, " "), (HINDI, " "), (EMOJI, ""), (CONTRACTIONS, " ")]
    for words, sep in languages:
        corpus += [phrase(rng, words, sep) for _ in range(80)]
    corpus += [phrase(rng, FRENCH, " ").replace("é", "e\u0301") for _ in range(20)]
    corpus += [unicodedata.normalize("NFD", phrase(rng, FRENCH + KOREAN, " ")) for _ in range(20)]
    corpus += [phrase(rng, COMBINING, rng.choice(["", " "]), 1, 6) for _ in range(60)]
    corpus += numbers(rng)
    corpus += CONTRACTIONS + SPECIALS + SPACES + CODE + URLS
    corpus += [phrase(rng, SPACES, "", 1, 8) for _ in range(60)]
    corpus += [rng.choice(ENGLISH) + phrase(rng, SPACES, "", 1, 4) + rng.choice(ENGLISH) for _ in range(60)]
    corpus += [phrase(rng, CODE, rng.choice(["\n", "\t", "\r\n"]), 1, 3) for _ in range(40)]
    corpus += [rng.choice(URLS) + rng.choice([" ", "/", "\n"]) + rng.choice(URLS) for _ in range(30)]
    corpus += [json_text(rng) for _ in range(60)]
    corpus += [phrase(rng, SPECIALS + ENGLISH, rng.choice(["", " ", "\n"]), 1, 8) for _ in range(120)]
    corpus += ["a" * n for n in (1, 2, 3, 7, 64, 127, 128, 129, 500, 3000)]
    corpus += ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)) for n in (50, 200, 1200, 5000)]
    corpus += ["Pneumonoultramicroscopicsilicovolcanoconiosis" * 4, "ab" * 700, "9" * 2000,
               "!" * 300, " " * 1000, "\n" * 200, "日本" * 400, "😀" * 150, "ﷺ" * 20]
    corpus += [mixed(rng) for _ in range(800)]
    corpus += [random_unicode(rng, cps) for _ in range(600)]
    corpus += ["", " ", "\n", "'", "a", "A", "1", "\r", "Ġ", "\u0000", "\x7f", "\ufeffBOM"]
    return corpus


def main():
    corpus = build()
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# moxie tokenizer corpus: {len(corpus)} strings, one JSON string per line; "
                f"generated by tools/ref/tokenizer_corpus.py (seed {SEED}); do not edit\n")
        for s in corpus:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    print(f"wrote {len(corpus)} strings to {OUT}")


if __name__ == "__main__":
    main()
