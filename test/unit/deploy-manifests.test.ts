/**
 * deploy/kubernetes: the manifests are what the docs say they are — every file parses, the kustomization
 * lists them all, the ConfigMap's configuration loads with the Secret's keys, and the front's
 * configuration step (`streamgate nginx-config` with the init container's exact arguments) succeeds.
 * No cluster here: what a cluster would add is the scheduling, not the configuration.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/index.js';

const dir = new URL('../../deploy/kubernetes/', import.meta.url).pathname;
const files = readdirSync(dir).filter((name) => name.endsWith('.yaml'));
type Doc = {
  kind?: string;
  metadata?: { name?: string };
  resources?: string[];
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    template?: {
      spec?: {
        initContainers?: Array<{
          command?: string[];
          env?: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
        }>;
        containers?: Array<{
          env?: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
        }>;
      };
    };
  };
};
const docs: Doc[] = files.flatMap((name) =>
  YAML.parseAllDocuments(readFileSync(join(dir, name), 'utf8')).map((doc) => {
    expect(doc.errors, name).toEqual([]);
    return doc.toJS() as Doc;
  }),
);
const scratch = mkdtempSync(join(tmpdir(), 'sg-deploy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const byKind = (kind: string, name: string) =>
  docs.find((doc) => doc.kind === kind && doc.metadata?.name === name);

describe('deploy/kubernetes', () => {
  it('lists every manifest in its kustomization', () => {
    const kustomization = docs.find((doc) => doc.kind === 'Kustomization');
    expect([...(kustomization?.resources ?? []), 'kustomization.yaml'].sort()).toEqual([...files].sort());
    for (const [kind, name] of [
      ['Secret', 'streamgate-keys'],
      ['ConfigMap', 'streamgate-config'],
      ['Deployment', 'streamgate'],
      ['Service', 'streamgate'],
      ['Deployment', 'streamgate-front'],
      ['Service', 'streamgate-front'],
    ]) {
      expect(byKind(kind!, name!), `${kind} ${name}`).toBeDefined();
    }
  });

  it("loads the ConfigMap's configuration with the Secret's keys, which every pod gets", () => {
    const secret = byKind('Secret', 'streamgate-keys')?.stringData ?? {};
    const file = join(scratch, 'config.yaml');
    writeFileSync(file, byKind('ConfigMap', 'streamgate-config')?.data?.['config.yaml'] ?? '');
    const result = loadConfig({ file, env: secret });
    expect(result.ok ? [] : result.problems).toEqual([]);
    for (const name of ['streamgate', 'streamgate-front']) {
      const pod = byKind('Deployment', name)?.spec?.template?.spec;
      const env = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].flatMap((c) => c.env ?? []);
      for (const variable of env) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref !== undefined) expect(Object.keys(secret), `${name}: ${variable.name}`).toContain(ref.key);
      }
    }
  });

  it("writes the front's nginx.conf with the init container's own arguments", async () => {
    const secret = byKind('Secret', 'streamgate-keys')?.stringData ?? {};
    const configFile = join(scratch, 'config.yaml');
    writeFileSync(configFile, byKind('ConfigMap', 'streamgate-config')?.data?.['config.yaml'] ?? '');
    const command =
      byKind('Deployment', 'streamgate-front')?.spec?.template?.spec?.initContainers?.[0]?.command ?? [];
    expect(command.slice(0, 3)).toEqual(['node', 'bin/streamgate.js', 'nginx-config']);
    const args = command
      .slice(2)
      .map((arg) =>
        arg
          .replace('/etc/streamgate/config.yaml', configFile)
          .replace('--prefix=/front', `--prefix=${scratch}`)
          .replace('--output=/front/', `--output=${scratch}/`),
      );
    const errors: string[] = [];
    const code = await main(args, { out: () => {}, err: (line) => errors.push(line), env: secret });
    expect(errors.filter((line) => !line.includes('wrote'))).toEqual([]);
    expect(code).toBe(0);
    const conf = readFileSync(join(scratch, 'nginx.conf'), 'utf8');
    expect(conf).toContain('listen 0.0.0.0:8088;');
    expect(conf).toContain('server streamgate:8080 max_fails=1 fail_timeout=5s;');
    expect(conf).toContain(`"z0|q|1" "${secret.LIVE_KEY}";`);
  });
});
