import { STATUS_CODES } from 'node:http';
import { isAbsolute, join } from 'node:path';
import type { Config, ZoneConfig } from '../config/index.js';
import { TOKEN_DENIALS } from '../config/index.js';
import { SCHEMES } from '../tokens/registry.js';
import type { SchemeName } from '../tokens/scheme.js';
import { ACCEPTED_PATH } from './path-pattern.js';

/**
 * `streamgate nginx-config`: an nginx configuration in which nginx moves the bytes and streamgate is
 * the brain. Pure: a validated streamgate Config and the front's own settings in, the text of
 * nginx.conf out (or every problem at once), no file or network access.
 *
 * What nginx does, request by request (docs/operations.md, "nginx in front"):
 * - manifests (`.m3u8`, `.m3u`, `.mpd`, `.mpp`) go to the gateways, which check, fetch and rewrite them;
 *   `hash … consistent` on the path without its token keeps each live playlist on one gateway (its
 *   cache and request coalescing then serve every viewer), `proxy_next_upstream` moves to the next
 *   gateway when one fails;
 * - everything else in a KeyCDN or Gcore zone is checked by nginx itself with `secure_link` (the MD5
 *   formulas are nginx's own) — the same 400, 403 and 410 as the gateway, in the same order — and
 *   proxied to the zone's origin through `proxy_cache` with `proxy_cache_lock`;
 * - zones of other schemes, and the rare request nginx cannot read the way the gateway does (a
 *   percent-encoded token parameter, several path tokens, a path token where a zone refuses them),
 *   are asked of `/_streamgate/auth`.
 *
 * nginx computes `$secure_link` once per request (the variable is cached, and subrequests share the
 * request's variables), so the candidates a token may sign — the file, its directory, under each key —
 * are tried one per request: the first inline, the others by a chain of requests to a second server on
 * a unix socket, each a request of its own.
 */

/** The schemes nginx checks itself: secure_link's MD5 over the scheme's string. */
const NATIVE_SCHEMES: ReadonlySet<SchemeName> = new Set<SchemeName>(['gcore', 'keycdn']);

export interface NginxFrontOptions {
  /** Where the front listens. */
  readonly listen: { readonly host: string; readonly port: number };
  /** The streamgate instances (`http://host:port`), at least one. */
  readonly gateways: readonly string[];
  /** Absolute directory for pid, logs, temp files, cache and the check socket (`nginx -p DIR`). */
  readonly prefix: string;
  /** nginx worker processes (default `auto`: one per CPU). */
  readonly workerProcesses?: number | 'auto';
  /** The media cache's size limit, in nginx units (default `1g`). */
  readonly cacheMaxSize?: string;
  /** How long a cached segment stays when the origin says nothing (seconds, default 600). */
  readonly cacheValidSeconds?: number;
  /** Written into the header comment. */
  readonly version?: string;
}

export type NginxConfigResult =
  | { readonly ok: true; readonly text: string; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[] };

/** A double-quoted nginx string: nginx's parser undoes `\\` and `\"` (and leaves other escapes). */
function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * A quoted value nginx reads as text although it is a complex value (map values, secure_link_md5): a
 * `$` would start a variable, so it is written as `${sg_dollar}`, a variable holding `$`.
 */
function literal(text: string): string {
  return quote(text).replace(/\$/g, '${sg_dollar}');
}

/** A PCRE pattern matching `text` literally. */
function regexText(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}/-]/g, (char) => `\\${char}`);
}

/** A C0 control character or DEL: nginx.conf cannot carry one inside a quoted string. */
const hasControl = (text: string): boolean =>
  [...text].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f);

function hostPort(url: URL): string {
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return `${url.hostname}:${port}`;
}

/** `Host` as undici sends it to the origin: the default port left out. */
function hostHeader(url: URL): string {
  return url.host;
}

function listenAddress(host: string, port: number): string {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
}

/** Status lines as the gateway writes them (sendText): `403 Forbidden (invalid)`. */
function statusText(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`;
}

const REDIRECTS = [301, 302, 303, 307, 308] as const;

/** Answers the front may have to give for a zone or a gateway denial, beyond the zones' own. */
const FIXED_DENIALS = [400, 403, 404, 405, 410] as const;

/** Reasons that are not token denials, and the text the gateway puts in their bodies. */
const REASON_TEXT: Readonly<Record<string, string>> = {
  no_zone: 'no zone',
  reserved: 'reserved path',
  target: 'request target',
  not_found: 'not found',
};

class Lines {
  readonly #lines: string[] = [];
  #depth = 0;

  line(text = ''): this {
    this.#lines.push(text === '' ? '' : `${'  '.repeat(this.#depth)}${text}`);
    return this;
  }

  open(text: string): this {
    this.line(`${text} {`);
    this.#depth += 1;
    return this;
  }

  close(): this {
    this.#depth -= 1;
    return this.line('}');
  }

  block(text: string, body: (lines: this) => void): this {
    this.open(text);
    body(this);
    return this.close();
  }

  /** `map SOURCE $VAR { … }` with entries written as given (keys and values already quoted). */
  map(source: string, variable: string, entries: ReadonlyArray<readonly [string, string]>): this {
    return this.block(`map ${source} $${variable}`, (inner) => {
      for (const [key, value] of entries) inner.line(`${key} ${value};`);
    });
  }

  toString(): string {
    return `${this.#lines.join('\n')}\n`;
  }
}

/**
 * Whether nginx checks the zone's segments itself (secure_link). Not for a zone with a policy (IP,
 * country, referrer lists, the denial limit): nginx would serve its segments to whoever holds a token,
 * so the gateways check them (auth_request), and the policy holds for every request.
 */
function checkedByNginx(zone: ZoneConfig): boolean {
  return NATIVE_SCHEMES.has(zone.scheme) && !hasPolicy(zone);
}

function hasPolicy(zone: ZoneConfig): boolean {
  return zone.policy !== undefined && Object.keys(zone.policy).length > 0;
}

interface Zone {
  /** `z0`, `z1`, …: map keys are compared without regard to case, zone names are not. */
  readonly id: string;
  readonly config: ZoneConfig;
  readonly native: boolean;
  readonly origin: URL;
  readonly upstream: string;
}

function validate(config: Config, options: NginxFrontOptions): string[] {
  const problems: string[] = [];
  if (!isAbsolute(options.prefix))
    problems.push(`--prefix must be an absolute directory, got "${options.prefix}"`);
  if (hasControl(options.prefix) || /["\s;{}]/.test(options.prefix)) {
    problems.push('--prefix must not hold spaces, quotes, ";", "{", "}" or control characters');
  }
  // sockaddr_un.sun_path is 108 bytes with its NUL (unix(7)).
  if (Buffer.byteLength(join(options.prefix, 'check.sock')) > 107) {
    problems.push(`--prefix is too long for a unix socket path (${join(options.prefix, 'check.sock')})`);
  }
  if (!Number.isInteger(options.listen.port) || options.listen.port < 1 || options.listen.port > 65_535) {
    problems.push(`--listen needs a port 1–65535, got ${options.listen.port}`);
  }
  if (options.listen.host === '' || /[\s;{}"]/.test(options.listen.host)) {
    problems.push(`--listen needs a host, e.g. 0.0.0.0:8088, got "${options.listen.host}"`);
  }
  if (options.gateways.length === 0) problems.push('--gateway URL is required (repeat it for each instance)');
  for (const gateway of options.gateways) {
    let url: URL | undefined;
    try {
      url = new URL(gateway);
    } catch {
      url = undefined;
    }
    if (
      url === undefined ||
      url.protocol !== 'http:' ||
      url.pathname !== '/' ||
      url.search !== '' ||
      url.username !== ''
    ) {
      problems.push(
        `--gateway must be an http URL without path, e.g. http://127.0.0.1:8080, got "${gateway}"`,
      );
    }
  }
  config.zones.forEach((zone, index) => {
    if (zone.keys.some(hasControl)) {
      problems.push(
        `zones[${index}] (${zone.name}): a key holds a control character, which nginx.conf cannot carry`,
      );
    }
    const statuses = Object.values(zone.denial.status);
    if (statuses.includes(444)) {
      problems.push(
        `zones[${index}] (${zone.name}): denial status 444 makes nginx close the connection without an answer; pick another`,
      );
    }
  });
  const auth = config.zones.filter((zone) => !checkedByNginx(zone));
  if (auth.length > 0 && config.trustedProxies.length === 0) {
    problems.push(
      `zones ${auth.map((zone) => zone.name).join(', ')} are checked through /_streamgate/auth, which answers only trusted proxies: add the front's address to trustedProxies (e.g. 127.0.0.1)`,
    );
  }
  return problems;
}

/** Builds nginx.conf for a front of `options.gateways`, checking what `config` says. */
export function nginxConfig(config: Config, options: NginxFrontOptions): NginxConfigResult {
  const problems = validate(config, options);
  if (problems.length > 0) return { ok: false, problems };
  const warnings: string[] = [];
  const policed = config.zones.filter((zone) => NATIVE_SCHEMES.has(zone.scheme) && hasPolicy(zone));
  if (policed.length > 0) {
    const one = policed.length === 1;
    warnings.push(
      `zone${one ? '' : 's'} ${policed.map((zone) => zone.name).join(', ')} ${one ? 'has a policy' : 'have policies'}: ` +
        `the gateways check ${one ? 'its' : 'their'} segments too (/_streamgate/auth), so the policy holds for every request; ` +
        "for nginx's own check, drop the policy and use nginx's allow/deny, geo and valid_referers in the front",
    );
  }
  if (config.trustedProxies.length === 0) {
    warnings.push(
      "trustedProxies is empty: the gateways will take the front's address for the viewer's (IP-bound tokens, logs); add the front's address to trustedProxies",
    );
  }
  const zones: Zone[] = config.zones.map((zone, index) => {
    const origin = new URL(zone.origin);
    return {
      id: `z${index}`,
      config: zone,
      native: checkedByNginx(zone),
      origin,
      upstream: `streamgate_origin_z${index}`,
    };
  });
  const prefix = options.prefix.replace(/\/+$/, '') || '/';
  const at = (name: string) => join(prefix, name);
  const out = new Lines();

  out.line(
    `# Generated by streamgate nginx-config${options.version === undefined ? '' : ` ${options.version}`}.`,
  );
  out.line(`# Run it unprivileged: nginx -p ${prefix} -c ${at('nginx.conf')}`);
  out.line("# It holds the zones' keys: keep it readable by its owner only (chmod 600).");
  out.line('# Manifests go to the streamgate gateways; every other request is checked here (secure_link)');
  out.line("# or, for schemes nginx cannot check, by the gateways' /_streamgate/auth.");
  out.line();
  out.line(`worker_processes ${options.workerProcesses ?? 'auto'};`);
  out.line(`pid ${at('nginx.pid')};`);
  out.line(`error_log ${at('error.log')} warn;`);
  out.line('pcre_jit on;');
  out.block('events', (events) => events.line('worker_connections 4096;'));
  out.line();
  out.open('http');
  out.line('server_tokens off;');
  out.line('variables_hash_max_size 4096;');
  out.line('variables_hash_bucket_size 128;');
  out.line('default_type application/octet-stream;');
  out.line('sendfile on;');
  out.line('tcp_nopush on;');
  // The path check reads the path as sent; nginx must not merge `//` before the location match.
  out.line('merge_slashes off;');
  out.line('recursive_error_pages on;');
  out.line(`client_body_temp_path ${at('temp_client_body')};`);
  out.line(`proxy_temp_path ${at('temp_proxy')};`);
  out.line(`fastcgi_temp_path ${at('temp_fastcgi')};`);
  out.line(`uwsgi_temp_path ${at('temp_uwsgi')};`);
  out.line(`scgi_temp_path ${at('temp_scgi')};`);
  out.line(
    `proxy_cache_path ${at('cache')} levels=1:2 keys_zone=streamgate_media:32m max_size=${options.cacheMaxSize ?? '1g'} inactive=10m use_temp_path=off;`,
  );
  // Paths are logged without their tokens; query strings are not logged at all (tokens live there).
  out.line(
    'log_format streamgate escape=json \'{"time":"$time_iso8601","reqId":"$sg_request_id","client":"$remote_addr","method":"$request_method","path":"$sg_log_path","status":$status,"bytes":$body_bytes_sent,"ms":$request_time,"zone":"$sg_log_zone","check":"$sg_check","reason":"$sg_denied","cache":"$upstream_cache_status","upstream":"$upstream_addr"}\';',
  );
  out.line(`access_log ${at('access.log')} streamgate;`);
  out.line();

  writeMaps(out, config, zones);
  out.line();
  writeUpstreams(out, zones, options, at('check.sock'));
  out.line();
  writeFront(out, config, zones, options);
  out.line();
  writeChecker(out, at('check.sock'));
  out.close();
  return { ok: true, text: out.toString(), warnings };
}

function writeMaps(out: Lines, config: Config, zones: readonly Zone[]): void {
  // A `$` for map values and secure_link_md5 (geo values are not complex values, so "$" is literal).
  out.block('geo $sg_dollar', (geo) => geo.line('default "$";'));
  out.block('geo $realip_remote_addr $sg_peer_trusted', (geo) => {
    geo.line('default 0;');
    for (const network of config.trustedProxies) geo.line(`${network} 1;`);
  });

  // Variables the locations set (`set`, auth_request_set), empty until then. Declared as maps, not
  // with a server-level `set`: a subrequest runs the server's rewrite phase again, and variables are
  // shared with it, so a server-level `set` would wipe what the location had set.
  for (const name of [
    'sg_check',
    'sg_denied',
    'sg_auth_status',
    'sg_auth_location',
    'sg_auth_zone',
    'sg_auth_upstream',
    'sg_auth_rate',
  ]) {
    out.map('$request_method', name, [['default', '""']]);
  }
  // A token's own speed limit (Bunny `limit`), in bytes per second as the gateways' auth answer says;
  // 0 (no limit) when there is none, since limit_rate logs an error for an empty value.
  out.map('$sg_auth_rate', 'sg_limit_rate', [
    [quote('~^[1-9][0-9]{0,11}$'), '$sg_auth_rate'],
    ['default', '0'],
  ]);
  out.line("# The request as the gateway's front door sees it (RFC 9112 §3.2: origin form only).");
  out.map('$request', 'sg_target_refused', [
    [quote('~^\\S+ (?:[^/]|//)'), '1'],
    [quote('~^\\S+ [^ ]*#'), '1'],
    ['default', '0'],
  ]);
  out.map('$http_host', 'sg_host_ok', [
    [
      quote(
        '~*^(?=.{1,260}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\\.?|\\[[0-9a-f:.]{2,45}\\])(?::[0-9]{1,5})?$',
      ),
      '1',
    ],
    ['default', '0'],
  ]);
  out.map('$request_method', 'sg_method', [
    ['GET', 'ok'],
    ['HEAD', 'ok'],
    ['OPTIONS', 'options'],
    ['default', 'refused'],
  ]);
  out.map('$request_method', 'sg_allow', [
    ['GET', '""'],
    ['HEAD', '""'],
    ['default', quote('GET, HEAD, OPTIONS')],
  ]);
  out.map('$http_x_request_id', 'sg_request_id', [
    [quote('~^[A-Za-z0-9._:-]{1,128}$'), '$http_x_request_id'],
    ['default', '$request_id'],
  ]);

  out.line('# The path: refused (400) exactly where the gateway refuses it (src/nginx/path-pattern.ts).');
  out.map('$request_uri', 'sg_raw_path', [[quote('~^(?<sg_rp>[^?]*)'), '$sg_rp']]);
  out.map('$sg_raw_path', 'sg_path_ok', [
    [quote(`~${ACCEPTED_PATH}`), '1'],
    ['default', '0'],
  ]);

  out.line('# Path tokens: /dir/~TOKEN~EXPIRES/rest, the token signing /dir/ (README, "Token rules").');
  const segment = '~[^~/]*~[^~/]*';
  out.map('$uri', 'sg_pt', [
    [quote(`~/${segment}(?:/.*)?/${segment}(?:/|$)`), '2'],
    [quote(`~/${segment}(?:/|$)`), '1'],
    ['default', '0'],
  ]);
  out.map('$uri', 'sg_pt_dir', [
    [quote(`~^(?<sg_ptd>.*?/)${segment}(?:/|$)`), '$sg_ptd'],
    ['default', '""'],
  ]);
  out.map('$uri', 'sg_pt_token', [
    [quote('~/~(?<sg_ptt>[^~/]*)~[^~/]*(?:/|$)'), '$sg_ptt'],
    ['default', '""'],
  ]);
  out.map('$uri', 'sg_pt_expires', [
    [quote('~/~[^~/]*~(?<sg_pte>[^~/]*)(?:/|$)'), '$sg_pte'],
    ['default', '""'],
  ]);
  out.map('$uri', 'sg_path', [
    [quote(`~^(?<sg_pa>.*?/)${segment}(?:/(?<sg_pb>.*))?$`), '$sg_pa$sg_pb'],
    ['default', '$uri'],
  ]);
  out.map('$sg_path', 'sg_dir', [[quote('~^(?<sg_d>.*/)'), '$sg_d']]);
  out.map('$sg_path', 'sg_reserved', [
    [quote('~^/_streamgate/'), '1'],
    ['default', '0'],
  ]);
  out.map('$sg_pt', 'sg_log_path', [
    ['2', '-'],
    ['default', '$sg_path'],
  ]);

  out.line(
    '# Zones: the longest prefix wins, segment by segment; a zone bound to the Host first at equal length.',
  );
  const ordered = [...zones].sort((a, b) => {
    const byLength = b.config.pathPrefix.length - a.config.pathPrefix.length;
    if (byLength !== 0) return byLength;
    return (b.config.host === undefined ? 0 : 1) - (a.config.host === undefined ? 0 : 1);
  });
  const zoneEntries = ordered.map((zone): [string, string] => {
    const host = zone.config.host === undefined ? '[^|]*' : regexText(zone.config.host);
    const prefix = zone.config.pathPrefix;
    const path = prefix === '/' ? '/' : `${regexText(prefix)}(?:/|$)`;
    return [quote(`~^${host}\\|${path}`), zone.id];
  });
  out.map(quote('$host|$sg_path'), 'sg_zone', [...zoneEntries, ['default', '""']]);
  const refusing = zones.filter((zone) => !zone.config.pathTokens).map((zone) => zone.id);
  if (refusing.length === 0) {
    out.map('$sg_zone', 'sg_native', [
      ...zones.map((zone): [string, string] => [zone.id, zone.native ? '1' : '0']),
      ['default', '0'],
    ]);
  } else {
    // pathTokens: false (README "Token rules"). A path token chosen into such a zone, or standing in
    // its part of the tree (the path as it is names it), is the gateways' to answer: they choose the
    // zone on the path each zone reads (src/gateway/zones.ts) and refuse it. The path as it is is
    // matched only for requests that hold a path token (a map value is evaluated when chosen).
    out.line('# Zones that refuse path tokens: a request holding one there is asked of the gateways.');
    out.map(quote('$host|$uri'), 'sg_literal_zone', [...zoneEntries, ['default', '""']]);
    const ids = refusing.join('|');
    out.map(quote('$sg_zone|$sg_literal_zone'), 'sg_pt_refusing_zone', [
      [quote(`~^(?:${ids})\\|`), '1'],
      [quote(`~\\|(?:${ids})$`), '1'],
      ['default', '0'],
    ]);
    out.map('$sg_pt', 'sg_pt_refused', [
      ['0', '0'],
      ['default', '$sg_pt_refusing_zone'],
    ]);
    out.map(quote('$sg_zone|$sg_pt_refused'), 'sg_native', [
      ...zones.filter((zone) => zone.native).map((zone): [string, string] => [quote(`${zone.id}|0`), '1']),
      ['default', '0'],
    ]);
  }
  out.map('$sg_zone', 'sg_scheme', [
    ...zones.filter((zone) => zone.native).map((zone): [string, string] => [zone.id, zone.config.scheme]),
    ['default', '""'],
  ]);
  out.map('$sg_zone', 'sg_log_zone', [
    ...zones.map((zone): [string, string] => [zone.id, quote(zone.config.name)]),
    ['default', '$sg_auth_zone'],
  ]);

  out.line(
    '# Query tokens, read as the gateway reads them (src/tokens/check.ts); anything percent-encoded goes to the gateway.',
  );
  out.map('$args', 'sg_pct_names', [
    [quote('~(?:^|&)[^&=]*%'), '1'],
    ['default', '0'],
  ]);
  const native = [...new Set(zones.filter((zone) => zone.native).map((zone) => zone.config.scheme))];
  for (const name of native) {
    const params = SCHEMES[name].params;
    for (const [role, param] of [
      ['t', params.token],
      ['e', params.expires ?? ''],
    ] as const) {
      const p = regexText(param);
      out.map('$args', `sg_${name}_${role}n`, [
        [quote(`~(?:^|&)${p}(?:[=&]|$).*&${p}(?:[=&]|$)`), '2'],
        [quote(`~(?:^|&)${p}(?:[=&]|$)`), '1'],
        ['default', '0'],
      ]);
      out.map('$args', `sg_${name}_${role}v`, [
        [quote(`~(?:^|&)${p}=(?<sg_${name}_${role}c>[^&]*)`), `$sg_${name}_${role}c`],
        ['default', '""'],
      ]);
    }
    // The query for the origin: both parameters removed, every other pair byte for byte, in order.
    const strip = (source: string, variable: string, param: string, tag: string) =>
      out.map(source, variable, [
        [quote(`~^${param}=[^&]*$`), '""'],
        [quote(`~^${param}=[^&]*&(?<${tag}r>.*)$`), `$${tag}r`],
        [quote(`~^(?<${tag}l>.*?)&${param}=[^&]*$`), `$${tag}l`],
        [quote(`~^(?<${tag}m>.*?)&${param}=[^&]*(?<${tag}n>&.*)$`), `$${tag}m$${tag}n`],
        ['default', source],
      ]);
    strip('$args', `sg_${name}_args1`, regexText(params.token), `sg_${name}_a`);
    strip(`$sg_${name}_args1`, `sg_${name}_args`, regexText(params.expires ?? ''), `sg_${name}_b`);
  }
  const perScheme = (variable: string, suffix: string, fallback: string) =>
    out.map('$sg_scheme', variable, [
      ...native.map((name): [string, string] => [name, `$sg_${name}_${suffix}`]),
      ['default', fallback],
    ]);
  perScheme('sg_tok_n', 'tn', '0');
  perScheme('sg_exp_n', 'en', '0');
  perScheme('sg_tok_v', 'tv', '""');
  perScheme('sg_exp_v', 'ev', '""');
  perScheme('sg_upstream_args', 'args', '$args');
  for (const [variable, source] of [
    ['sg_tok_f', '$sg_tok_v'],
    ['sg_exp_f', '$sg_exp_v'],
  ] as const) {
    out.map(source, variable, [
      ['""', 'e'],
      [quote('~%'), 'p'],
      ['default', 'v'],
    ]);
  }
  // Which token the request presents, in the gateway's order: several path tokens or one with a query
  // token is malformed, no token is missing, a duplicated, lone or empty parameter is malformed.
  out.map(quote('$sg_pt|$sg_tok_n$sg_exp_n|$sg_tok_f$sg_exp_f'), 'sg_presented', [
    [quote('~^2\\|'), 'auth'],
    [quote('~^1\\|00\\|'), 'path'],
    [quote('~^1\\|'), 'malformed'],
    [quote('~^0\\|00\\|'), 'missing'],
    [quote('~^0\\|(?:2.|.2)\\|'), 'malformed'],
    [quote('~^0\\|(?:0.|.0)\\|'), 'malformed'],
    [quote('~^0\\|11\\|(?:e.|.e)$'), 'malformed'],
    [quote('~^0\\|11\\|(?:p.|.p)$'), 'auth'],
    ['default', 'query'],
  ]);
  out.map('$sg_presented', 'sg_given_token', [
    ['path', '$sg_pt_token'],
    ['default', '$sg_tok_v'],
  ]);
  out.map('$sg_presented', 'sg_given_expires', [
    ['path', '$sg_pt_expires'],
    ['default', '$sg_exp_v'],
  ]);
  // An MD5 token is 22 base64url characters whose last is A, Q, g or w (src/tokens/md5-family.ts).
  out.map(quote('$sg_given_token|$sg_given_expires'), 'sg_form', [
    [quote('~^[A-Za-z0-9_-]{21}[AQgw]\\|[1-9][0-9]{0,9}$'), 'ok'],
    ['default', 'malformed'],
  ]);
  out.map(quote('$sg_pt|$sg_zone|$sg_native|$sg_pct_names|$sg_presented|$sg_form'), 'sg_route', [
    [quote('~^2\\|'), 'auth'],
    [quote('~^.\\|\\|'), 'no_zone'],
    [quote('~^.\\|z[0-9]+\\|0\\|'), 'auth'],
    [quote('~^.\\|z[0-9]+\\|1\\|1\\|'), 'auth'],
    [quote('~\\|auth\\|[a-z]+$'), 'auth'],
    [quote('~\\|missing\\|[a-z]+$'), 'missing'],
    [quote('~\\|(?:path|query)\\|ok$'), 'hash'],
    ['default', 'malformed'],
  ]);

  out.line('# The candidates a token may sign, one per request: the file then its directory under each key,');
  out.line(
    "# or a path token's directory under each key. Attempt 1 runs in the front, the rest in the check server.",
  );
  out.map(quote('$server_addr|$http_x_streamgate_attempt'), 'sg_attempt', [
    [quote('~^unix:[^|]*\\|(?<sg_at>[1-9][0-9]{0,2})$'), '$sg_at'],
    ['default', '1'],
  ]);
  out.map('$sg_presented', 'sg_kind', [
    ['path', 'p'],
    ['default', 'q'],
  ]);
  const keyEntries: Array<[string, string]> = [];
  const nextEntries: Array<[string, string]> = [];
  for (const zone of zones.filter((z) => z.native)) {
    const keys = zone.config.keys;
    const query = keys.flatMap((key) => [key, key]);
    query.forEach((key, index) => {
      keyEntries.push([quote(`${zone.id}|q|${index + 1}`), literal(key)]);
      if (index + 1 < query.length) nextEntries.push([quote(`${zone.id}|q|${index + 1}`), String(index + 2)]);
    });
    keys.forEach((key, index) => {
      keyEntries.push([quote(`${zone.id}|p|${index + 1}`), literal(key)]);
      if (index + 1 < keys.length) nextEntries.push([quote(`${zone.id}|p|${index + 1}`), String(index + 2)]);
    });
  }
  out.map(quote('$sg_zone|$sg_kind|$sg_attempt'), 'sg_key', [...keyEntries, ['default', '""']]);
  out.map(quote('$sg_zone|$sg_kind|$sg_attempt'), 'sg_next_attempt', [...nextEntries, ['default', '""']]);
  // Zones that forward the viewer's token hand out directory tokens (README, "The token
  // strategies"): their directory candidate comes first, so a segment needs one check, not two.
  out.map('$sg_zone', 'sg_dir_first', [
    ...zones
      .filter((zone) => zone.native && zone.config.tokens === 'forward')
      .map((zone): [string, string] => [zone.id, '1']),
    ['default', '0'],
  ]);
  out.map(quote('$sg_kind|$sg_dir_first|$sg_attempt'), 'sg_signed_path', [
    [quote('~^p\\|'), '$sg_pt_dir'],
    [quote('~^q\\|0\\|[0-9]*[13579]$'), '$sg_path'],
    [quote('~^q\\|1\\|[0-9]*[02468]$'), '$sg_path'],
    ['default', '$sg_dir'],
  ]);
  // RFC 5952 form as the gateway's canonicalIp writes it: an IPv4-mapped address is the IPv4 address.
  out.map('$remote_addr', 'sg_client_ip', [
    [quote('~^::ffff:(?<sg_v4>[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+)$'), '$sg_v4'],
    ['default', '$remote_addr'],
  ]);
  out.map('$sg_zone', 'sg_bound_ip', [
    ...zones
      .filter((zone) => zone.native && zone.config.bindIp)
      .map((zone): [string, string] => [zone.id, '$sg_client_ip']),
    ['default', '""'],
  ]);
  // The strings the schemes sign (src/tokens/gcore.ts, keycdn.ts).
  const formulas: Partial<Record<SchemeName, string>> = {
    gcore: '"$sg_given_expires$sg_signed_path$sg_bound_ip $sg_key"',
    keycdn: '"$sg_signed_path$sg_key$sg_given_expires"',
  };
  out.map('$sg_scheme', 'sg_md5_input', [
    ...native.map((name): [string, string] => [name, formulas[name] ?? '""']),
    ['default', '""'],
  ]);
  // secure_link says 0 when expires < now; valid is now < expires (README, "Token rules"), so a token
  // expiring this very second is expired too: $msec starts with the same second.
  out.map(quote('$secure_link|$sg_given_expires|$msec|$sg_next_attempt'), 'sg_verdict', [
    [quote('~^1\\|([0-9]+)\\|\\1\\.'), 'expired'],
    [quote('~^1\\|'), 'ok'],
    [quote('~^0\\|'), 'expired'],
    [quote('~\\|$'), 'invalid'],
    ['default', 'next'],
  ]);

  out.line(
    '# Client facts for the gateways, believed from trusted proxies only (as the gateway believes them).',
  );
  out.map(quote('$sg_peer_trusted|$http_x_forwarded_for'), 'sg_forwarded_for', [
    [quote('~^1\\|(?<sg_xff>.+)$'), '"$sg_xff, $realip_remote_addr"'],
    ['default', '$remote_addr'],
  ]);
  out.map(quote('$sg_peer_trusted|$http_x_forwarded_proto'), 'sg_proto', [
    [quote('~^1\\|https$'), 'https'],
    [quote('~^1\\|.'), 'http'],
    ['default', '$scheme'],
  ]);
  if (config.geo.header !== undefined) {
    const field = config.geo.header.toLowerCase().replace(/-/g, '_');
    out.map(quote(`$sg_peer_trusted|$http_${field}`), 'sg_geo_header', [
      [quote('~^1\\|(?<sg_geo>.+)$'), '$sg_geo'],
      ['default', '""'],
    ]);
  }

  out.line('# Origins: one upstream per zone; the Host undici would send.');
  out.map('$sg_zone', 'sg_origin', [
    ...zones.map((zone): [string, string] => [zone.id, `${zone.origin.protocol}//${zone.upstream}`]),
    ['default', '""'],
  ]);
  out.map('$sg_zone', 'sg_origin_host', [
    ...zones.map((zone): [string, string] => [zone.id, quote(hostHeader(zone.origin))]),
    ['default', '""'],
  ]);
  out.map('$sg_auth_zone', 'sg_auth_origin', [
    ...zones.map((zone): [string, string] => [
      quote(`~^${regexText(zone.config.name)}$`),
      `${zone.origin.protocol}//${zone.upstream}`,
    ]),
    ['default', '""'],
  ]);
  out.map('$sg_auth_zone', 'sg_auth_origin_host', [
    ...zones.map((zone): [string, string] => [
      quote(`~^${regexText(zone.config.name)}$`),
      quote(hostHeader(zone.origin)),
    ]),
    ['default', '""'],
  ]);
  // Zones that send per-viewer headers to the origin (forwardHeaders) are not cached, and get ranges
  // and validators passed through instead.
  const uncached = zones.filter((zone) => zone.config.forwardHeaders.length > 0);
  out.map(quote('$sg_zone|$sg_auth_zone'), 'sg_no_cache', [
    ...uncached.flatMap((zone): Array<[string, string]> => [
      [quote(`~^${zone.id}\\|`), '1'],
      [quote(`~\\|${regexText(zone.config.name)}$`), '1'],
    ]),
    ['default', '0'],
  ]);
  for (const name of [
    'range',
    'if_range',
    'if_none_match',
    'if_modified_since',
    'if_match',
    'if_unmodified_since',
  ]) {
    out.map('$sg_no_cache', `sg_pass_${name}`, [
      ['1', `$http_${name}`],
      ['default', '""'],
    ]);
  }
  const forwarded = [...new Set(zones.flatMap((zone) => zone.config.forwardHeaders))];
  for (const header of forwarded) {
    const field = header.replace(/-/g, '_');
    const ids = zones.filter((zone) => zone.config.forwardHeaders.includes(header));
    out.map(quote('$sg_zone|$sg_auth_zone'), `sg_fwd_${field}`, [
      ...ids.flatMap((zone): Array<[string, string]> => [
        [quote(`~^${zone.id}\\|`), `$http_${field}`],
        [quote(`~\\|${regexText(zone.config.name)}$`), `$http_${field}`],
      ]),
      ['default', '""'],
    ]);
  }

  writeDenialMaps(out, config, zones);
  writeCorsMaps(out, config);
}

function writeDenialMaps(out: Lines, _config: Config, zones: readonly Zone[]): void {
  out.line("# Denials: the zone's status per reason, or its redirect (denial: in the configuration).");
  const entries: Array<[string, string]> = [
    [quote('~^(?:[0-9]+, )*(?<sg_as>[0-9]+)\\|'), '$sg_as'],
    [quote('~\\|path$'), '400'],
    [quote('~\\|(?:no_zone|reserved|not_found)$'), '404'],
    [quote('~\\|method$'), '405'],
    [quote('~\\|(?:target|host)$'), '400'],
  ];
  const locations: Array<[string, string]> = [[quote('~^(?<sg_loc>.+)\\|[^|]*\\|[^|]*$'), '$sg_loc']];
  for (const zone of zones.filter((z) => z.native)) {
    const { status, redirect, redirectOn, redirectStatus } = zone.config.denial;
    for (const reason of TOKEN_DENIALS) {
      const redirected = redirect !== undefined && redirectOn.includes(reason);
      entries.push([quote(`|${zone.id}|${reason}`), String(redirected ? redirectStatus : status[reason])]);
      if (redirected) locations.push([quote(`|${zone.id}|${reason}`), literal(redirect)]);
    }
  }
  out.map(quote('$sg_auth_status|$sg_zone|$sg_denied'), 'sg_deny_status', [...entries, ['default', '403']]);
  out.map(quote('$sg_auth_location|$sg_zone|$sg_denied'), 'sg_deny_location', [
    ...locations,
    ['default', '""'],
  ]);
  out.map('$sg_denied', 'sg_denied_text', [
    ...Object.entries(REASON_TEXT).map(([reason, text]): [string, string] => [reason, quote(text)]),
    ['""', 'gateway'],
    ['default', '$sg_denied'],
  ]);
}

const CORS_EXPOSED = 'Content-Length, Content-Range, Accept-Ranges, ETag, Date, Age, X-Request-Id';
const CORS_ALLOWED_HEADERS =
  'Range, If-None-Match, If-Modified-Since, If-Range, If-Match, If-Unmodified-Since, Accept, Accept-Language, X-Request-Id';

/** CORS as src/gateway/cors.ts answers it (Fetch standard §3.2). */
function writeCorsMaps(out: Lines, config: Config): void {
  out.line('# CORS as the gateway answers it (src/gateway/cors.ts).');
  const origins = config.cors.allowedOrigins;
  const any = origins.includes('*');
  out.map('$http_origin', 'sg_cors_origin', [
    ...(any
      ? []
      : origins.map((origin): [string, string] => [quote(`~^${regexText(origin)}$`), '$http_origin'])),
    ['default', any ? '*' : '""'],
  ]);
  out.map('$sg_cors_origin', 'sg_cors_expose', [
    ['""', '""'],
    ['default', quote(CORS_EXPOSED)],
  ]);
  out.map('$request_method', 'sg_cors_vary', [['default', any ? '""' : 'Origin']]);
  out.map('$http_access_control_request_method', 'sg_has_acrm', [
    ['""', '0'],
    ['default', '1'],
  ]);
  out.map('$http_origin', 'sg_has_origin', [
    ['""', '0'],
    ['default', '1'],
  ]);
  out.map(quote('$request_method:$sg_has_acrm$sg_has_origin:$sg_cors_origin'), 'sg_preflight', [
    [quote('~^OPTIONS:11:.'), '1'],
    ['default', '0'],
  ]);
  for (const [variable, value] of [
    ['sg_preflight_methods', 'GET, HEAD, OPTIONS'],
    ['sg_preflight_headers', CORS_ALLOWED_HEADERS],
    ['sg_preflight_max_age', '7200'],
  ] as const) {
    out.map('$sg_preflight', variable, [
      ['1', quote(value)],
      ['default', '""'],
    ]);
  }
}

function writeUpstreams(
  out: Lines,
  zones: readonly Zone[],
  options: NginxFrontOptions,
  socket: string,
): void {
  out.line(
    '# The gateways: each live playlist on one instance (its cache and coalescing), the next on failure.',
  );
  out.block('upstream streamgate_gateways', (upstream) => {
    upstream.line('hash $sg_path consistent;');
    for (const gateway of options.gateways) {
      upstream.line(`server ${hostPort(new URL(gateway))} max_fails=1 fail_timeout=5s;`);
    }
    upstream.line('keepalive 64;');
  });
  out.block('upstream streamgate_check', (upstream) => {
    upstream.line(`server unix:${socket};`);
    upstream.line('keepalive 16;');
  });
  for (const zone of zones) {
    out.block(`upstream ${zone.upstream}`, (upstream) => {
      upstream.line(`server ${hostPort(zone.origin)};`);
      upstream.line('keepalive 64;');
    });
  }
}

/**
 * Headers on every answer the front itself gives or proxies: the gateway's CORS and request id; with
 * `preflight`, what a CORS preflight and a 405 add (Allow, the preflight's grants). Only these
 * answers carry the second group, so the media path evaluates four headers, not eight.
 */
function commonHeaders(out: Lines, preflight = false): void {
  out.line('add_header Access-Control-Allow-Origin $sg_cors_origin always;');
  out.line('add_header Access-Control-Expose-Headers $sg_cors_expose always;');
  out.line('add_header Vary $sg_cors_vary always;');
  out.line('add_header X-Request-Id $sg_request_id always;');
  if (!preflight) return;
  out.line('add_header Allow $sg_allow always;');
  out.line('add_header Access-Control-Allow-Methods $sg_preflight_methods always;');
  out.line('add_header Access-Control-Allow-Headers $sg_preflight_headers always;');
  out.line('add_header Access-Control-Max-Age $sg_preflight_max_age always;');
}

/** Request headers for the gateways (the proxy path and /_streamgate/auth). */
function gatewayHeaders(out: Lines, config: Config): void {
  out.line('proxy_http_version 1.1;');
  out.line('proxy_set_header Connection "";');
  out.line('proxy_set_header X-Forwarded-For $sg_forwarded_for;');
  out.line('proxy_set_header X-Forwarded-Proto $sg_proto;');
  out.line('proxy_set_header X-Real-IP "";');
  out.line('proxy_set_header X-Request-Id $sg_request_id;');
  if (config.geo.header !== undefined) out.line(`proxy_set_header ${config.geo.header} $sg_geo_header;`);
  out.line('proxy_next_upstream error timeout;');
  out.line('proxy_connect_timeout 2s;');
}

/** The origin request: what src/gateway/headers.ts sends, through the media cache. */
function originProxy(
  out: Lines,
  config: Config,
  origin: string,
  host: string,
  cacheKey: string,
  forwarded: readonly string[],
): void {
  out.line(`proxy_pass ${origin};`);
  out.line('proxy_http_version 1.1;');
  out.line('proxy_pass_request_headers off;');
  out.line('proxy_set_header Connection "";');
  out.line(`proxy_set_header Host ${host};`);
  for (const header of ['Accept', 'Accept-Encoding', 'Accept-Language', 'User-Agent']) {
    out.line(`proxy_set_header ${header} $http_${header.toLowerCase().replace(/-/g, '_')};`);
  }
  for (const header of [
    'Range',
    'If-Range',
    'If-None-Match',
    'If-Modified-Since',
    'If-Match',
    'If-Unmodified-Since',
  ]) {
    out.line(`proxy_set_header ${header} $sg_pass_${header.toLowerCase().replace(/-/g, '_')};`);
  }
  for (const header of forwarded)
    out.line(`proxy_set_header ${header} $sg_fwd_${header.replace(/-/g, '_')};`);
  out.line('proxy_set_header X-Forwarded-For $sg_forwarded_for;');
  out.line('proxy_set_header X-Request-Id $sg_request_id;');
  out.line('proxy_ssl_server_name on;');
  for (const header of [
    'Access-Control-Allow-Origin',
    'Access-Control-Allow-Credentials',
    'Access-Control-Expose-Headers',
    'Access-Control-Allow-Methods',
    'Access-Control-Allow-Headers',
    'Access-Control-Max-Age',
    'Alt-Svc',
    'X-Request-Id',
  ]) {
    out.line(`proxy_hide_header ${header};`);
  }
  out.line(`proxy_connect_timeout ${Math.max(1, Math.ceil(config.timeouts.connectMs / 1000))}s;`);
  out.line(
    `proxy_read_timeout ${Math.max(1, Math.ceil(Math.max(config.timeouts.headersMs, config.timeouts.bodyMs) / 1000))}s;`,
  );
  out.line('proxy_cache streamgate_media;');
  out.line(`proxy_cache_key ${cacheKey};`);
  out.line('proxy_cache_bypass $sg_no_cache;');
  out.line('proxy_no_cache $sg_no_cache;');
  // N viewers of a new live segment: one origin request, the others wait for it.
  out.line('proxy_cache_lock on;');
  out.line('proxy_cache_lock_timeout 10s;');
  out.line('proxy_cache_revalidate on;');
  out.line('proxy_cache_use_stale updating;');
  out.line('proxy_force_ranges on;');
  out.line('proxy_buffers 16 64k;');
  out.line('proxy_buffer_size 64k;');
  out.line('proxy_busy_buffers_size 128k;');
}

function writeFront(out: Lines, config: Config, zones: readonly Zone[], options: NginxFrontOptions): void {
  const forwarded = [...new Set(zones.flatMap((zone) => zone.config.forwardHeaders))];
  const cacheValid = options.cacheValidSeconds ?? 600;
  const denialStatuses = [
    ...new Set<number>([
      ...FIXED_DENIALS,
      ...zones.flatMap((zone) => Object.values(zone.config.denial.status)),
    ]),
  ].sort((a, b) => a - b);
  out.open('server');
  out.line(`listen ${listenAddress(options.listen.host, options.listen.port)};`);
  out.line('server_name _;');
  for (const network of config.trustedProxies) out.line(`set_real_ip_from ${network};`);
  if (config.trustedProxies.length > 0) {
    out.line('real_ip_header X-Forwarded-For;');
    out.line('real_ip_recursive on;');
  }
  out.line('error_page 418 = @sg_deny;');
  out.line('if ($sg_target_refused) { set $sg_denied target; return 418; }');
  out.line('if ($sg_host_ok = 0) { set $sg_denied host; return 418; }');
  out.line();

  out.block('location = /_streamgate/healthz', (location) => {
    location.line('proxy_pass http://streamgate_gateways;');
    gatewayHeaders(location, config);
    location.line('proxy_set_header Host $http_host;');
  });
  out.line("# The rest of the gateway's reserved paths (metrics, auth) are for operators: ask the gateways.");
  for (const path of ['location = /_streamgate', 'location ^~ /_streamgate/']) {
    out.block(path, (location) => {
      location.line('set $sg_denied not_found;');
      location.line('if ($sg_method = ok) { return 418; }');
      location.line('set $sg_denied method;');
      location.line('return 418;');
    });
  }
  out.line();
  out.line('# Manifests: checked, fetched and rewritten per viewer by the gateways.');
  out.block('location ~* \\.(?:m3u8?|mpd|mpp)$', (location) => {
    location.line('set $sg_check gateway;');
    location.line('proxy_pass http://streamgate_gateways;');
    gatewayHeaders(location, config);
    location.line('proxy_set_header Host $http_host;');
    location.line(`proxy_read_timeout ${Math.max(1, Math.ceil(config.timeouts.headersMs / 1000) + 5)}s;`);
  });
  out.line();
  out.line("# Everything else: the path, then the token, in the gateway's order; the first candidate here.");
  out.block('location /', (location) => {
    commonHeaders(location);
    location.line('add_header X-Streamgate-Cache $upstream_cache_status always;');
    location.line('error_page 418 = @sg_deny;');
    location.line('error_page 419 = @sg_chain;');
    location.line('error_page 420 = @sg_auth;');
    location.block('if ($sg_method = options)', (preflight) => {
      commonHeaders(preflight, true);
      preflight.line('return 204;');
    });
    location.line('if ($sg_method = refused) { set $sg_denied method; return 418; }');
    location.line('if ($sg_path_ok = 0) { set $sg_denied path; return 418; }');
    location.line('if ($sg_route = no_zone) { set $sg_denied no_zone; return 418; }');
    location.line('if ($sg_route = auth) { return 420; }');
    location.line('if ($sg_route = missing) { set $sg_denied missing; return 418; }');
    location.line('if ($sg_route = malformed) { set $sg_denied malformed; return 418; }');
    location.line('secure_link $sg_given_token,$sg_given_expires;');
    location.line('secure_link_md5 $sg_md5_input;');
    location.line('if ($sg_verdict = expired) { set $sg_denied expired; return 418; }');
    location.line('if ($sg_verdict = invalid) { set $sg_denied invalid; return 418; }');
    location.line('if ($sg_verdict = next) { return 419; }');
    location.line('if ($sg_reserved) { set $sg_denied reserved; return 418; }');
    location.line('set $sg_check nginx;');
    location.line('set $args $sg_upstream_args;');
    location.line('rewrite ^ $sg_path break;');
    originProxy(
      location,
      config,
      '$sg_origin',
      '$sg_origin_host',
      '"$sg_zone|$sg_path|$sg_upstream_args"',
      forwarded,
    );
    location.line(`proxy_cache_valid 200 301 302 ${cacheValid}s;`);
  });
  out.line();
  out.line(
    '# The other candidates of a token, one check-server request each (secure_link runs once per request).',
  );
  out.block('location @sg_chain', (location) => {
    commonHeaders(location);
    location.line('add_header X-Streamgate-Cache $upstream_cache_status always;');
    location.line('auth_request /_streamgate/nginx-check;');
    location.line('auth_request_set $sg_denied $upstream_http_x_streamgate_reason;');
    location.line('error_page 401 403 = @sg_deny;');
    location.line('set $sg_check nginx-chain;');
    location.line('set $args $sg_upstream_args;');
    location.line('rewrite ^ $sg_path break;');
    originProxy(
      location,
      config,
      '$sg_origin',
      '$sg_origin_host',
      '"$sg_zone|$sg_path|$sg_upstream_args"',
      forwarded,
    );
    location.line(`proxy_cache_valid 200 301 302 ${cacheValid}s;`);
  });
  out.block('location = /_streamgate/nginx-check', (location) => {
    location.line('internal;');
    location.line('proxy_pass http://streamgate_check$request_uri;');
    location.line('proxy_http_version 1.1;');
    location.line('proxy_pass_request_body off;');
    location.line('proxy_pass_request_headers off;');
    location.line('proxy_set_header Connection "";');
    location.line('proxy_set_header Host $host;');
    location.line('proxy_set_header X-Real-IP $remote_addr;');
    location.line('proxy_set_header X-Streamgate-Attempt 2;');
  });
  out.line();
  out.line(
    '# Schemes nginx cannot check, and requests it cannot read as the gateway does: the gateways decide.',
  );
  out.block('location @sg_auth', (location) => {
    commonHeaders(location);
    location.line('add_header X-Streamgate-Cache $upstream_cache_status always;');
    location.line('auth_request /_streamgate/nginx-auth;');
    location.line('auth_request_set $sg_auth_status $upstream_status;');
    location.line('auth_request_set $sg_denied $upstream_http_x_streamgate_reason;');
    location.line('auth_request_set $sg_auth_location $upstream_http_location;');
    location.line('auth_request_set $sg_auth_zone $upstream_http_x_streamgate_zone;');
    location.line('auth_request_set $sg_auth_upstream $upstream_http_x_streamgate_upstream;');
    location.line('auth_request_set $sg_auth_rate $upstream_http_x_streamgate_limit_rate;');
    location.line('limit_rate $sg_limit_rate;');
    location.line('error_page 403 = @sg_deny;');
    location.line('set $sg_check gateway-auth;');
    originProxy(
      location,
      config,
      '$sg_auth_origin$sg_auth_upstream',
      '$sg_auth_origin_host',
      '"$sg_auth_zone|$sg_auth_upstream"',
      forwarded,
    );
    location.line(`proxy_cache_valid 200 301 302 ${cacheValid}s;`);
  });
  out.block('location = /_streamgate/nginx-auth', (location) => {
    location.line('internal;');
    location.line('proxy_pass http://streamgate_gateways/_streamgate/auth;');
    location.line('proxy_pass_request_body off;');
    location.line('proxy_set_header Content-Length "";');
    location.line('proxy_set_header Host $http_host;');
    location.line('proxy_set_header X-Original-URI $request_uri;');
    location.line('proxy_set_header X-Original-Method $request_method;');
    location.line('proxy_set_header X-Forwarded-Host $host;');
    location.line('proxy_set_header X-Forwarded-Uri "";');
    location.line('proxy_set_header X-Forwarded-Method "";');
    gatewayHeaders(location, config);
    // nginx passes only 401 and 403 on from an auth subrequest (any other status is a 500); the real
    // status and reason travel in $upstream_status and X-Streamgate-Reason instead.
    location.line('proxy_intercept_errors on;');
    const intercepted = [...new Set([...REDIRECTS, ...denialStatuses, 500, 502, 503, 504])].filter(
      (status) => status !== 403,
    );
    location.line(`error_page ${intercepted.join(' ')} = @sg_auth_refused;`);
  });
  out.block('location @sg_auth_refused', (location) => location.line('return 403;'));
  out.line();
  out.line("# Every refusal of the front, with the status the zone configures and the gateway's text.");
  out.block('location @sg_deny', (location) => {
    commonHeaders(location, true);
    location.line('add_header Cache-Control no-store always;');
    location.line('default_type text/plain;');
    location.line('charset utf-8;');
    location.line('if ($sg_check = "") { set $sg_check refused; }');
    for (const status of denialStatuses) {
      location.line(
        `if ($sg_deny_status = ${status}) { return ${status} "${statusText(status)} ($sg_denied_text)\\n"; }`,
      );
    }
    for (const status of REDIRECTS) {
      location.line(`if ($sg_deny_status = ${status}) { return ${status} $sg_deny_location; }`);
    }
    location.line(`return 502 "${statusText(502)} ($sg_denied_text)\\n";`);
  });
  out.close();
}

function writeChecker(out: Lines, socket: string): void {
  out.line('# The check server: one more candidate per request, on a socket only this nginx reaches.');
  out.open('server');
  out.line(`listen unix:${socket};`);
  out.line('access_log off;');
  out.line('set_real_ip_from unix:;');
  out.line('real_ip_header X-Real-IP;');
  out.block('location /', (location) => {
    location.line('error_page 418 = @sg_next;');
    location.line('secure_link $sg_given_token,$sg_given_expires;');
    location.line('secure_link_md5 $sg_md5_input;');
    location.line(
      'if ($sg_verdict = expired) { add_header X-Streamgate-Reason expired always; return 401; }',
    );
    location.line(
      'if ($sg_verdict = invalid) { add_header X-Streamgate-Reason invalid always; return 403; }',
    );
    location.line('if ($sg_verdict = next) { return 418; }');
    location.line('if ($sg_reserved) { add_header X-Streamgate-Reason reserved always; return 403; }');
    location.line('return 204;');
  });
  out.block('location @sg_next', (location) => {
    location.line('proxy_pass http://streamgate_check;');
    location.line('proxy_http_version 1.1;');
    location.line('proxy_pass_request_body off;');
    location.line('proxy_pass_request_headers off;');
    location.line('proxy_set_header Connection "";');
    location.line('proxy_set_header Host $host;');
    location.line('proxy_set_header X-Real-IP $remote_addr;');
    location.line('proxy_set_header X-Streamgate-Attempt $sg_next_attempt;');
  });
  out.close();
}
