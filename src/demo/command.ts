import { parseArgs } from 'node:util';
import { asUsage, type Io } from '../cli/usage.js';
import { startDemo } from './server.js';

export const DEMO_HELP = `Usage: streamgate demo [--host 127.0.0.1] [--port 8080] [--gateway-port 8081] [--scheme gcore|keycdn]

Starts a sample VOD origin (the committed fixtures), a live origin simulator, the gateway in front of
them with tokens required, and a publisher page that signs links and plays them with hls.js / dash.js.
Prints the page's URL. Ctrl-C stops everything.`;

export async function runDemo(argv: string[], io: Io): Promise<number> {
  const { values } = asUsage(() =>
    parseArgs({
      args: argv,
      strict: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'gateway-port': { type: 'string' },
        scheme: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(DEMO_HELP);
    return 0;
  }
  const scheme = values.scheme === 'keycdn' ? 'keycdn' : 'gcore';
  const demo = await startDemo({
    host: values.host ?? '127.0.0.1',
    port: Number(values.port ?? 8080),
    gatewayPort: Number(values['gateway-port'] ?? 8081),
    scheme,
    logLevel: 'info',
  });
  io.out(`streamgate demo: open ${demo.pageUrl}`);
  io.out(`  gateway ${demo.gatewayUrl} (scheme ${scheme}, tokens required, mint strategy)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await demo.close();
  return 0;
}
