import { parseArgs } from 'node:util';
import { decryptEctoken } from '../tokens/ectoken.js';
import { asUsage, readSecrets, UsageError, type Io } from './usage.js';

export const DECRYPT_HELP = `Usage: streamgate decrypt TOKEN --secret KEY [--secret BACKUP] [--json]

Prints the parameters inside an ectoken (Edgecast / Azure CDN Premium v3), the Azure portal's "decrypt tool":
the ec_* query string on one line. Exit status 0 when a key opens it, 1 when none does (or the token is
malformed, or a v2 Blowfish token, which is not accepted).

  --secret KEY        key to try, repeatable: the primary and the backup key (or --secret-file FILE,
                      STREAMGATE_SECRET); any text is accepted here, as the reference tools do
  --json              print {"params":"ec_expire=…&…"}

Example: streamgate decrypt fVSYBBTynMkvQECGV-Kdfp333R-MGY2fsrrpVyuqd7OiuAUsQ8ITrL0 --secret MY_SECRET_KEY`;

const OPTION = /^(?:--secret|--secret-file|--json|--help|-h)(?:=|$)/;
const VALUE_OPTIONS = new Set(['--secret', '--secret-file']);
const TOKEN_LIKE = /^[A-Za-z0-9_\-+/]{39,}={0,2}$/;

/**
 * A base64url token may start with `-` (one in 64 does), which an option parser would take for a flag:
 * such an argument is moved behind `--`, where it can only be the TOKEN.
 */
function tokenAsPositional(argv: readonly string[]): string[] {
  const flags: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (VALUE_OPTIONS.has(arg)) {
      flags.push(arg, ...argv.slice(i + 1, i + 2));
      i += 1;
    } else if (arg.startsWith('-') && !OPTION.test(arg) && TOKEN_LIKE.test(arg)) positionals.push(arg);
    else flags.push(arg);
  }
  return positionals.length === 0 ? flags : [...flags, '--', ...positionals];
}

export function runDecrypt(argv: string[], io: Io): number {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args: tokenAsPositional(argv),
      allowPositionals: true,
      strict: true,
      options: {
        secret: { type: 'string', multiple: true },
        'secret-file': { type: 'string', multiple: true },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(DECRYPT_HELP);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] === '')
    throw new UsageError('decrypt takes exactly one TOKEN');
  const keys = readSecrets(values.secret, values['secret-file'], io.env);
  const result = decryptEctoken(positionals[0] ?? '', keys);
  if (!result.ok) {
    io.err(`streamgate decrypt: cannot decrypt (${result.reason}): ${result.detail}`);
    return 1;
  }
  io.out(values.json ? JSON.stringify({ params: result.plaintext }) : result.plaintext);
  return 0;
}
