import { cpus, totalmem } from 'node:os';
import { runCoalescingBench, runGatewayBench } from './gateway.js';
import { runManifestLoadBench } from './manifest-load.js';
import { runDashRewriteBench, runRewriteBench } from './rewrite.js';
import { runTokenBench } from './tokens.js';

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `streamgate bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB\n`,
);
console.log('## Tokens: sign and verify\n');
console.log(runTokenBench());

console.log('\n## Manifest rewriting\n');
console.log(runRewriteBench());
console.log('');
console.log(runDashRewriteBench());

console.log('\n## Large manifests under load: event-loop delay, other viewers, peak memory\n');
console.log(await runManifestLoadBench({ log: () => {} }));

console.log('\n## Live coalescing: origin fetches for 200 viewers of one live variant\n');
const coalescing = await runCoalescingBench({ log: () => {} });
console.log(coalescing.table);

console.log(
  '\n## Throughput: nginx origin, nginx secure_link (the anchor), the nginx front + streamgate, streamgate alone, /_streamgate/auth (same origin, same run)\n',
);
const gateway = await runGatewayBench({ log: () => {} });
console.log(gateway.table);
