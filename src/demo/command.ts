import { parseArgs } from 'node:util';
import { asUsage, UsageError, type Io } from '../cli/usage.js';
import { startDemo } from './server.js';

export const DEMO_HELP = `Usage: streamgate demo [--host 127.0.0.1] [--port 8080] [--gateway-port 8081] [--scheme gcore|keycdn]

Starts a sample VOD origin (the committed fixtures), a live origin simulator, the gateway in front of
them with tokens required, and a publisher page that signs links and plays them with hls.js / dash.js.
Prints the page's URL. Ctrl-C stops everything.`;

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')} (got "${value}")`);
  }
  return value as T;
}

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
        tokens: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(DEMO_HELP);
    return 0;
  }
  const scheme = oneOf('--scheme', values.scheme ?? 'gcore', ['gcore', 'keycdn', 'ectoken'] as const);
  const tokens = oneOf('--tokens', values.tokens ?? 'mint', ['mint', 'forward'] as const);
  const demo = await startDemo({
    host: values.host ?? '127.0.0.1',
    port: Number(values.port ?? 8080),
    gatewayPort: Number(values['gateway-port'] ?? 8081),
    scheme,
    tokens,
    logLevel: 'info',
  });
  io.out(`streamgate demo: open ${demo.pageUrl}`);
  io.out(`  gateway ${demo.gatewayUrl} (scheme ${scheme}, tokens required, ${tokens} strategy)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await demo.close();
  return 0;
}
