import { parseArgs } from 'node:util';
import { decryptEctoken } from '../tokens/ectoken.js';
import { asUsage, readSecrets, UsageError, type Io } from './usage.js';

export const DECRYPT_HELP = `Usage: streamgate decrypt TOKEN --secret KEY [--secret BACKUP] [--json]

Prints the parameters inside an ectoken (Edgecast / Azure CDN Premium v3), the seed's "decrypt tool":
the ec_* query string on one line. Exit status 0 when a key opens it, 1 when none does (or the token is
malformed, or a v2 Blowfish token, which is not accepted).

  --secret KEY        key to try, repeatable: the primary and the backup key (or --secret-file FILE,
                      STREAMGATE_SECRET); any text is accepted here, as the reference tools do
  --json              print {"params":"ec_expire=…&…"}

Example: streamgate decrypt fVSYBBTynMkvQECGV-Kdfp333R-MGY2fsrrpVyuqd7OiuAUsQ8ITrL0 --secret MY_SECRET_KEY`;

export function runDecrypt(argv: string[], io: Io): number {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args: argv,
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
