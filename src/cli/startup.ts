/**
 * Start-up failures a user can fix: each is one line on stderr naming the problem and the fix, with an
 * exit status that says which kind it is — 2 for the command line and the configuration (nothing was
 * started), 1 for the machine refusing something the configuration asked for (a port in use). Never a
 * stack trace: it tells an operator nothing they can act on.
 */

/** A failure printed as `streamgate <command>: <message>` alone, exiting with `exitCode`. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/** The configuration (file, environment, flags) is invalid: every problem, one line if only one. */
export function configProblems(problems: readonly string[]): StartupError {
  const message =
    problems.length === 1
      ? `invalid configuration: ${problems[0]}`
      : `invalid configuration (${problems.length} problems):\n  ${problems.join('\n  ')}`;
  return new StartupError(message, 2);
}

/** Which listener could not bind, and what changes its address. */
export interface ListenerSetting {
  /** e.g. "the gateway", "the admin listener", "the demo page". */
  readonly what: string;
  readonly host: string;
  readonly port: number;
  /** How to choose another port, e.g. "--port N (listen.port in the file, STREAMGATE_PORT)". */
  readonly portFlag: string;
  /** How to choose another address, e.g. "--host ADDR". */
  readonly hostFlag: string;
}

/** Node's error from `server.listen()` turned into one line with the fix. */
export function listenFailure(error: unknown, setting: ListenerSetting): StartupError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const address = `${setting.host.includes(':') ? `[${setting.host}]` : setting.host}:${setting.port}`;
  const head = `${setting.what} cannot listen on ${address}`;
  let fix: string;
  switch (code) {
    case 'EADDRINUSE':
      fix = `the port is already in use; stop what holds it or choose another port with ${setting.portFlag}`;
      break;
    case 'EACCES':
      fix =
        setting.port < 1024
          ? `permission denied (ports below 1024 need privileges); choose a port from 1024 up with ${setting.portFlag}`
          : `permission denied; choose another port with ${setting.portFlag}`;
      break;
    case 'EADDRNOTAVAIL':
      fix = `${setting.host} is not an address of this machine; choose another with ${setting.hostFlag}`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      fix = `the host name ${setting.host} does not resolve; give an address with ${setting.hostFlag}`;
      break;
    default:
      fix = `${code ?? 'error'}: ${error instanceof Error ? error.message : String(error)}`;
  }
  return new StartupError(`${head}: ${fix}`, 1);
}

/** Marks an error from one listener so that the caller can say which one failed. */
export class ListenerError extends Error {
  override readonly name = 'ListenerError';
  constructor(
    /** Which of the command's listeners: serve's 'media' or 'admin', demo's 'page' or 'gateway'. */
    readonly listener: string,
    readonly host: string,
    readonly port: number,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** The listener settings of `serve`: which flag, variable and file key change them. */
export function serveListener(listener: string, host: string, port: number): ListenerSetting {
  return listener === 'media'
    ? {
        what: 'the gateway',
        host,
        port,
        portFlag: '--port N (listen.port in the file, STREAMGATE_PORT)',
        hostFlag: '--host ADDR (listen.host in the file, STREAMGATE_HOST)',
      }
    : {
        what: 'the admin listener',
        host,
        port,
        portFlag: '--admin-port N (admin.port in the file, STREAMGATE_ADMIN_PORT)',
        hostFlag: 'admin.host in the file',
      };
}
