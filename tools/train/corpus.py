"""The training text: the King James Bible (public domain), from Debian's bible-kjv
(the `bible` program over bible-kjv-text's compressed data).

`bible -f REF-REF` prints one verse per line as "Gen1:1 In the beginning ...". The text
kept is plain prose: one verse per line, a blank line between chapters, no references.
Every 60th chapter (starting with the 30th) is held out for the perplexity figure;
the rest is the training text.
"""
import re
import shutil
import subprocess

VERSE = re.compile(r"^\s*(\S+?)(\d+):(\d+)\s+(.*\S)\s*$")
HELDOUT_EVERY, HELDOUT_FIRST = 60, 30


def chapters():
    """[(book, chapter, [verse text, ...]), ...] in canonical order."""
    if shutil.which("bible") is None:
        raise SystemExit("corpus: the `bible` program is missing (apt-get install bible-kjv)")
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    result, key = [], None
    for line in out.splitlines():
        m = VERSE.match(line)
        if not m:
            if line.strip():
                raise SystemExit(f"corpus: unexpected line from bible: {line!r}")
            continue
        if (m.group(1), m.group(2)) != key:
            key = (m.group(1), m.group(2))
            result.append((key[0], int(key[1]), []))
        result[-1][2].append(m.group(4))
    return result


def load():
    """Returns (train_text, heldout_text), both ASCII."""
    train, heldout = [], []
    for i, (_, _, verses) in enumerate(chapters()):
        (heldout if i % HELDOUT_EVERY == HELDOUT_FIRST else train).append("\n".join(verses) + "\n")
    train_text, heldout_text = "\n".join(train), "\n".join(heldout)
    for name, text in (("train", train_text), ("held-out", heldout_text)):
        if not text.isascii():
            raise SystemExit(f"corpus: {name} text is not ASCII (bpe.py's split is exact only for ASCII)")
    return train_text, heldout_text
