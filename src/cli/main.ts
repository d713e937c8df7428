import { DEMO_HELP, runDemo } from '../demo/command.js';
import { packageVersion } from '../version.js';
import { DECRYPT_HELP, runDecrypt } from './decrypt.js';
import { NGINX_CONFIG_HELP, runNginxConfig } from './nginx-config.js';
import { REWRITE_HELP, runRewrite } from './rewrite.js';
import { runServe, SERVE_HELP } from './serve.js';
import { runSign, SIGN_HELP } from './sign.js';
import { StartupError } from './startup.js';
import { UsageError, type Io } from './usage.js';
import { runVerify, VERIFY_HELP } from './verify.js';

type Command = (argv: string[], io: Io) => number | Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  serve: { run: runServe, help: SERVE_HELP },
  demo: { run: runDemo, help: DEMO_HELP },
  rewrite: { run: runRewrite, help: REWRITE_HELP },
  sign: { run: runSign, help: SIGN_HELP },
  verify: { run: runVerify, help: VERIFY_HELP },
  decrypt: { run: runDecrypt, help: DECRYPT_HELP },
  'nginx-config': { run: runNginxConfig, help: NGINX_CONFIG_HELP },
};

export const HELP = `streamgate — token gateway for HLS and DASH

Usage: streamgate <command> [options]
       streamgate --version

Commands:
  serve     run the gateway in front of an origin
  sign      print a signed URL
  verify    check a signed URL (exit 0 valid, 1 denied)
  decrypt   print the parameters inside an ectoken (exit 1 when no key opens it)
  rewrite   print a manifest as the gateway would rewrite it
  nginx-config  print an nginx configuration: nginx checks and moves segments, gateways rewrite manifests
  demo      sample origin + gateway + player page in one command

Run "streamgate <command> --help" for a command's options.`;

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

export function registerCommand(name: string, run: Command, help: string): void {
  COMMANDS[name] = { run, help };
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(packageVersion());
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.err(`streamgate: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`streamgate ${name}: ${error.message}\nRun "streamgate ${name} --help" for usage.`);
      return 2;
    }
    if (error instanceof StartupError) {
      io.err(`streamgate ${name}: ${error.message}`);
      return error.exitCode;
    }
    // A fault of ours, not the user's: one line (EX_SOFTWARE); STREAMGATE_DEBUG=1 shows the stack.
    io.err(`streamgate ${name}: internal error: ${error instanceof Error ? error.message : String(error)}`);
    if (io.env.STREAMGATE_DEBUG === '1' && error instanceof Error && error.stack) io.err(error.stack);
    return 70;
  }
}
