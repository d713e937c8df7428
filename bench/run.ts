import { cpus, totalmem } from 'node:os';
import { runRewriteBench } from './rewrite.js';
import { runTokenBench } from './tokens.js';

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `streamgate bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB\n`,
);
console.log('## Tokens: sign and verify\n');
console.log(runTokenBench());

console.log('\n## Manifest rewriting\n');
console.log(runRewriteBench());
