import { parseArgs } from 'node:util';
import { asUsage, UsageError, type Io } from '../cli/usage.js';
import { ListenerError, listenFailure, type ListenerSetting } from '../cli/startup.js';
import { startDemo, type Demo } from './server.js';

export const DEMO_HELP = `Usage: streamgate demo [--host 127.0.0.1] [--port 8080] [--gateway-port 8081]
                      [--scheme gcore|keycdn|ectoken] [--tokens mint|forward]

Starts a sample VOD origin (the committed fixtures), a live origin simulator, the gateway in front of
them with tokens required, and a publisher page that signs links and plays them with hls.js / dash.js.
Prints the page's URL. Ctrl-C stops everything.

  --host ADDR          address of the page and the gateway (default 127.0.0.1)
  --port N             port of the publisher page (default 8080; 0 picks a free one)
  --gateway-port N     port of the gateway (default 8081; 0 picks a free one)
  --scheme S           token format: gcore (default), keycdn or ectoken (Edgecast / Azure)
  --tokens S           how manifest URIs get tokens: mint (default) or forward (links signed for
                       their directory)

Example: streamgate demo --scheme ectoken --tokens forward`;

function port(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65_535) {
    throw new UsageError(`${flag} must be a port number 0–65535, got "${value}"`);
  }
  return Number(value);
}

/** Which flag moves each of the demo's listeners. */
function demoListener(error: ListenerError): ListenerSetting {
  const page = error.listener === 'page';
  return {
    what: page ? 'the demo page' : "the demo's gateway",
    host: error.host,
    port: error.port,
    portFlag: page ? '--port N' : '--gateway-port N',
    hostFlag: '--host ADDR',
  };
}

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
  const options = {
    host: values.host ?? '127.0.0.1',
    port: port('--port', values.port, 8080),
    gatewayPort: port('--gateway-port', values['gateway-port'], 8081),
    scheme,
    tokens,
    logLevel: 'info',
  } as const;
  let demo: Demo;
  try {
    demo = await startDemo(options);
  } catch (error) {
    if (error instanceof ListenerError) throw listenFailure(error.cause, demoListener(error));
    throw error;
  }
  io.out(`streamgate demo: open ${demo.pageUrl}`);
  io.out(`  gateway ${demo.gatewayUrl} (scheme ${scheme}, tokens required, ${tokens} strategy)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await demo.close();
  return 0;
}
