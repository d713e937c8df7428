import { describe, expect, it } from 'vitest';
import { HLS_URI_SITES, looksLikeHls, rewriteHls } from '../../src/manifest/hls/index.js';
import type { RewriteResult, TokenGrant, Tokenizer, UriTarget } from '../../src/manifest/types.js';

const MANIFEST_URL = new URL('https://gw.example/live/cam1/index.m3u8?tok=IN&sig=a%2Fb%2Bc&empty=');

interface Seen {
  readonly site: string;
  readonly resource: string;
  readonly url: string;
  readonly wildcard: boolean;
}

/** Grants `tok=G` to gw.example and records what the tokenizer was asked. */
function recording(grant: (target: UriTarget) => TokenGrant | undefined = sameHost): {
  tokenize: Tokenizer;
  seen: Seen[];
} {
  const seen: Seen[] = [];
  return {
    seen,
    tokenize: (target) => {
      seen.push({
        site: target.site,
        resource: target.resource,
        url: target.url.href,
        wildcard: target.wildcard,
      });
      return grant(target);
    },
  };
}

function sameHost(target: UriTarget): TokenGrant | undefined {
  return target.url.host === 'gw.example' ? { kind: 'query', params: [['tok', 'G']] } : undefined;
}

function rewrite(body: string, tokenize: Tokenizer = sameHost, manifestUrl = MANIFEST_URL): RewriteResult {
  return rewriteHls(body, { manifestUrl, tokenize });
}

const lines = (...all: string[]): string => all.join('\n') + '\n';

describe('RFC 8216 §4.2 attribute lists', () => {
  it('a quoted-string may contain commas, "=" and ":": only the URI attribute itself is rewritten', () => {
    const input = lines(
      '#EXTM3U',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="Eng, 5.1: x=y",URI="audio/en,main:1.m3u8",LANGUAGE="en"',
    );
    expect(rewrite(input).text).toBe(
      lines(
        '#EXTM3U',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="Eng, 5.1: x=y",URI="audio/en,main:1.m3u8?tok=G",LANGUAGE="en"',
      ),
    );
  });

  it('never rewrites URI= written inside the quoted value of another attribute', () => {
    const input = lines('#EXTM3U', '#EXT-X-SESSION-DATA:DATA-ID="x",VALUE="a,URI=b.json,URI=c"');
    const { seen, tokenize } = recording();
    const result = rewrite(input, tokenize);
    expect(result.text).toBe(input);
    expect(seen).toEqual([]);
  });

  it('attribute names match exactly: X-URI, URI-X or SERVER-URI on a tag without that site are left', () => {
    const input = lines(
      '#EXTM3U',
      '#EXT-X-MAP:X-URI="a.mp4",URI-X="b.mp4",uri="c.mp4"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="n",SERVER-URI="d.m3u8"',
    );
    expect(rewrite(input).text).toBe(input);
  });

  it('tag names match exactly: EXT-X-MEDIA-SEQUENCE and EXT-X-MAPX are not EXT-X-MEDIA and EXT-X-MAP', () => {
    const input = lines('#EXTM3U', '#EXT-X-MEDIA-SEQUENCE:URI="a.m3u8"', '#EXT-X-MAPX:URI="b.mp4"');
    expect(rewrite(input).text).toBe(input);
  });

  it('client attributes of EXT-X-DATERANGE other than X-ASSET-URI and X-ASSET-LIST are left alone', () => {
    const input = lines(
      '#EXTM3U',
      '#EXT-X-DATERANGE:ID="1",START-DATE="2020-01-01T00:00:00Z",X-TRACKING="https://gw.example/t",X-URI="x.m3u8",X-ASSET-URI="a.m3u8"',
    );
    expect(rewrite(input).text).toBe(
      lines(
        '#EXTM3U',
        '#EXT-X-DATERANGE:ID="1",START-DATE="2020-01-01T00:00:00Z",X-TRACKING="https://gw.example/t",X-URI="x.m3u8",X-ASSET-URI="a.m3u8?tok=G"',
      ),
    );
  });

  it('a tag without a URI attribute does not gain one (CLOSED-CAPTIONS rendition, METHOD=NONE key)', () => {
    const input = lines(
      '#EXTM3U',
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="English",INSTREAM-ID="CC1"',
      '#EXT-X-KEY:METHOD=NONE',
      '#EXTINF:4,',
      'a.ts',
    );
    const result = rewrite(input);
    expect(result.text).toBe(input.replace('a.ts', 'a.ts?tok=G'));
    expect(result.rewritten).toBe(1);
    expect(result.skipped).toEqual([]);
  });

  it('spaces around "=" and "," are tolerated as players do, and kept', () => {
    const input = lines('#EXTM3U', '#EXT-X-MAP: URI = "init.mp4" , BYTERANGE="1@0"');
    expect(rewrite(input).text).toBe(
      lines('#EXTM3U', '#EXT-X-MAP: URI = "init.mp4?tok=G" , BYTERANGE="1@0"'),
    );
  });

  it('an unquoted URI value is read as lenient players read it (up to the next comma)', () => {
    const input = lines('#EXTM3U', '#EXT-X-MAP:URI=init.mp4,BYTERANGE=1@0');
    expect(rewrite(input).text).toBe(lines('#EXTM3U', '#EXT-X-MAP:URI=init.mp4?tok=G,BYTERANGE=1@0'));
  });

  it('a quoted-string without its closing quote is reported unparseable and left alone', () => {
    const input = lines('#EXTM3U', '#EXT-X-MAP:URI="init.mp4,BYTERANGE=1@0');
    const result = rewrite(input);
    expect(result.text).toBe(input);
    expect(result.skipped).toEqual([
      { site: 'EXT-X-MAP@URI', uri: 'init.mp4,BYTERANGE=1@0', reason: 'unparseable' },
    ]);
  });

  it('spaces inside the quotes stay outside the edit', () => {
    const input = lines('#EXTM3U', '#EXT-X-KEY:METHOD=AES-128,URI=" key.bin\t"');
    expect(rewrite(input).text).toBe(lines('#EXTM3U', '#EXT-X-KEY:METHOD=AES-128,URI=" key.bin?tok=G\t"'));
  });
});

describe('RFC 8216 §4.1 URI lines', () => {
  it('a URI line after EXT-X-STREAM-INF is a playlist, even with comments, blank lines and tags between', () => {
    const input = lines(
      '#EXTM3U',
      '#EXT-X-STREAM-INF:BANDWIDTH=1',
      '# comment',
      '',
      '#EXT-X-VENDOR:A=1',
      'v1.m3u8',
      'after.ts',
    );
    const { seen, tokenize } = recording();
    rewrite(input, tokenize);
    expect(seen.map(({ site, resource }) => [site, resource])).toEqual([
      ['variant', 'playlist'],
      ['segment', 'media'],
    ]);
  });

  it('any other non-blank line not starting with "#" is a media segment, with or without EXTINF', () => {
    const input = lines('#EXTM3U', 'orphan.ts', '#EXTINF 6,', 'no-colon.ts', '#EXTINF:4,', 'normal.ts');
    const { seen, tokenize } = recording();
    const result = rewrite(input, tokenize);
    expect(seen.map(({ site }) => site)).toEqual(['segment', 'segment', 'segment']);
    expect(result.rewritten).toBe(3);
  });

  it('comments, "##" comments and lines indented before "#" are never URI lines', () => {
    const input = lines('#EXTM3U', '# https://gw.example/a.ts', '## b.ts', '   #EXTINF:4,', '\t# c.ts');
    const { seen, tokenize } = recording();
    expect(rewrite(input, tokenize).text).toBe(input);
    expect(seen).toEqual([]);
  });

  it('spaces and tabs around a URI line stay outside the edit (hls.js trims the line)', () => {
    const input = '#EXTM3U\n  \tseg.ts \t\r\n';
    expect(rewrite(input).text).toBe('#EXTM3U\n  \tseg.ts?tok=G \t\r\n');
  });

  it('byte-range segments repeat one URI: each occurrence is a site and gets its own token', () => {
    const input = lines(
      '#EXTM3U',
      '#EXTINF:4,',
      '#EXT-X-BYTERANGE:100@0',
      'all.mp4',
      '#EXTINF:4,',
      '#EXT-X-BYTERANGE:100',
      'all.mp4',
    );
    let n = 0;
    const result = rewrite(input, () => ({ kind: 'query', params: [['tok', String((n += 1))]] }));
    expect(result.text).toBe(
      input.replace('all.mp4', 'all.mp4?tok=1').replace('\nall.mp4\n', '\nall.mp4?tok=2\n'),
    );
    expect(result.rewritten).toBe(2);
  });

  it('EXT-X-PREFETCH carries a bare URI after the colon', () => {
    const input = lines('#EXTM3U', '#EXT-X-PREFETCH:  next.ts');
    const { seen, tokenize } = recording();
    expect(rewrite(input, tokenize).text).toBe(lines('#EXTM3U', '#EXT-X-PREFETCH:  next.ts?tok=G'));
    expect(seen).toEqual([
      {
        site: 'EXT-X-PREFETCH',
        resource: 'media',
        url: 'https://gw.example/live/cam1/next.ts',
        wildcard: false,
      },
    ]);
  });
});

describe('What the tokenizer is told', () => {
  it('each site carries its table name, resource class and wildcard flag', () => {
    const input = lines(
      '#EXTM3U',
      '#EXT-X-PART:DURATION=1,URI="p.mp4"',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="h.mp4"',
      '#EXT-X-RENDITION-REPORT:URI="../r.m3u8",LAST-MSN=1',
      '#EXT-X-CONTENT-STEERING:SERVER-URI="/steer.json"',
      '#EXT-X-SESSION-KEY:METHOD=AES-128,URI="k.key"',
    );
    const { seen, tokenize } = recording();
    rewrite(input, tokenize);
    expect(seen).toEqual([
      {
        site: 'EXT-X-PART@URI',
        resource: 'media',
        url: 'https://gw.example/live/cam1/p.mp4',
        wildcard: true,
      },
      {
        site: 'EXT-X-PRELOAD-HINT@URI',
        resource: 'media',
        url: 'https://gw.example/live/cam1/h.mp4',
        wildcard: true,
      },
      {
        site: 'EXT-X-RENDITION-REPORT@URI',
        resource: 'playlist',
        url: 'https://gw.example/live/r.m3u8',
        wildcard: false,
      },
      {
        site: 'EXT-X-CONTENT-STEERING@SERVER-URI',
        resource: 'playlist',
        url: 'https://gw.example/steer.json',
        wildcard: false,
      },
      {
        site: 'EXT-X-SESSION-KEY@URI',
        resource: 'media',
        url: 'https://gw.example/live/cam1/k.key',
        wildcard: false,
      },
    ]);
  });

  it('URIs are resolved against the manifest URL (RFC 3986 §5): relative, ../, root-relative, //host, absolute', () => {
    const input = lines(
      '#EXTM3U',
      'a.ts',
      '../b.ts',
      '/c.ts?x=1',
      '//gw.example/d.ts',
      'http://gw.example:8080/e.ts',
      'sub/./f.ts#frag',
      'seg%20g.ts',
    );
    const { seen, tokenize } = recording();
    rewrite(input, tokenize);
    expect(seen.map(({ url }) => url)).toEqual([
      'https://gw.example/live/cam1/a.ts',
      'https://gw.example/live/b.ts',
      'https://gw.example/c.ts?x=1',
      'https://gw.example/d.ts',
      'http://gw.example:8080/e.ts',
      'https://gw.example/live/cam1/sub/f.ts#frag',
      'https://gw.example/live/cam1/seg%20g.ts',
    ]);
  });

  it('every table row is a site the rewriter finds (one line per row, tokenizer asked once each)', () => {
    const body = ['#EXTM3U'];
    for (const row of HLS_URI_SITES) {
      if (row.place === 'uri-line')
        body.push(`#${row.tag}:${row.tag === 'EXTINF' ? '4,' : 'BANDWIDTH=1'}`, 'x');
      else if (row.place === 'tag-value') body.push(`#${row.tag}:x`);
      else body.push(`#${row.tag}:${row.attribute}="x"`);
    }
    const { seen, tokenize } = recording();
    rewrite(lines(...body), tokenize);
    expect(seen.map(({ site }) => site)).toEqual(HLS_URI_SITES.map((row) => row.site));
  });
});

describe('README "The token strategies": URIs that never get a token', () => {
  it('data: and skd: URIs are reported with their reason and the tokenizer is not asked', () => {
    const input = lines(
      '#EXTM3U',
      '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key-id",KEYFORMAT="com.apple.streamingkeydelivery"',
      '#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:text/plain;base64,AAAA",KEYFORMAT="identity"',
      'C:\\HLS Video\\test1.ts',
    );
    const { seen, tokenize } = recording();
    const result = rewrite(input, tokenize);
    expect(result.text).toBe(input);
    expect(seen).toEqual([]);
    expect(result.skipped).toEqual([
      { site: 'EXT-X-KEY@URI', uri: 'skd://key-id', reason: 'non-http-scheme' },
      { site: 'EXT-X-KEY@URI', uri: 'data:text/plain;base64,AAAA', reason: 'data-uri' },
      { site: 'segment', uri: 'C:\\HLS Video\\test1.ts', reason: 'non-http-scheme' },
    ]);
  });

  it('a URI the tokenizer declines (a foreign host) is left byte for byte and reported as declined', () => {
    const input = lines('#EXTM3U', 'https://cdn.other.example/a.ts?x=1');
    const result = rewrite(input);
    expect(result.text).toBe(input);
    expect(result.rewritten).toBe(0);
    expect(result.skipped).toEqual([
      { site: 'segment', uri: 'https://cdn.other.example/a.ts?x=1', reason: 'declined' },
    ]);
  });

  it('an empty URI attribute is reported unparseable, not resolved to the playlist itself', () => {
    const input = lines('#EXTM3U', '#EXT-X-MAP:URI=""');
    const result = rewrite(input);
    expect(result.text).toBe(input);
    expect(result.skipped).toEqual([{ site: 'EXT-X-MAP@URI', uri: '', reason: 'unparseable' }]);
  });
});

describe('README "The token strategies": a URI that already has a query keeps it', () => {
  it('the token parameters are appended with "&"; existing bytes and order are kept (Nimble session first)', () => {
    const input = lines('#EXTM3U', 'l_1_2_3.ts?nimblesessionid=42&wmsAuthSign=c2Vy+dmVy/MQ==&b=%20x&c');
    expect(rewrite(input).text).toBe(
      lines('#EXTM3U', 'l_1_2_3.ts?nimblesessionid=42&wmsAuthSign=c2Vy+dmVy/MQ==&b=%20x&c&tok=G'),
    );
  });

  it('a token already in the URI (tok=old) is replaced, not doubled', () => {
    const input = lines('#EXTM3U', 'a.ts?tok=old', 'b.ts?x=1&tok=old&y=2');
    expect(rewrite(input).text).toBe(lines('#EXTM3U', 'a.ts?tok=G', 'b.ts?x=1&y=2&tok=G'));
  });

  it('a fragment stays after the query', () => {
    const input = lines('#EXTM3U', 'a.mp4#t=10', 'b.mp4?x=1#t=20');
    expect(rewrite(input).text).toBe(lines('#EXTM3U', 'a.mp4?tok=G#t=10', 'b.mp4?x=1&tok=G#t=20'));
  });

  it('a trailing "&" is not doubled (Akamai hdntl playlists)', () => {
    const input = lines('#EXTM3U', 's.ts?hdntl=exp=1~acl=/*~hmac=ab&');
    expect(rewrite(input).text).toBe(lines('#EXTM3U', 's.ts?hdntl=exp=1~acl=/*~hmac=ab&tok=G'));
  });

  it('":" or "," after the first path segment is no scheme: v1/seg:01,a.ts gets its token', () => {
    const input = lines('#EXTM3U', 'v1/seg:01,a.ts', './x:y.ts');
    expect(rewrite(input).text).toBe(lines('#EXTM3U', 'v1/seg:01,a.ts?tok=G', './x:y.ts?tok=G'));
  });

  it('a rebasing grant points an absolute upstream URI at the gateway', () => {
    const input = lines('#EXTM3U', 'http://origin.internal:8081/live/a.ts?n=1', 'b.ts');
    const result = rewrite(input, (target) =>
      target.url.host === 'origin.internal:8081'
        ? { kind: 'query', params: [['tok', 'G']], rebaseTo: 'https://gw.example' }
        : undefined,
    );
    expect(result.text).toBe(lines('#EXTM3U', 'https://gw.example/live/a.ts?n=1&tok=G', 'b.ts'));
  });

  it('a path grant inserts its segment into a root-relative URI', () => {
    const input = lines('#EXTM3U', '/videos/v1/360p/seg-1.ts');
    const result = rewrite(input, () => ({ kind: 'path', afterPath: '/videos/v1/', segment: '~tk~1700' }));
    expect(result.text).toBe(lines('#EXTM3U', '/videos/v1/~tk~1700/360p/seg-1.ts'));
  });
});

describe('rfc8216bis §4.3 / §4.4.2.3 EXT-X-DEFINE', () => {
  it('NAME/VALUE: the tokenizer sees the substituted URI, the written text keeps {$name}', () => {
    const input = lines('#EXTM3U', '#EXT-X-DEFINE:NAME="base",VALUE="/media/v1/"', '{$base}seg.ts');
    const { seen, tokenize } = recording();
    expect(rewrite(input, tokenize).text).toBe(
      lines('#EXTM3U', '#EXT-X-DEFINE:NAME="base",VALUE="/media/v1/"', '{$base}seg.ts?tok=G'),
    );
    expect(seen.map(({ url }) => url)).toEqual(['https://gw.example/media/v1/seg.ts']);
  });

  it('QUERYPARAM takes the percent-decoded value of that parameter of the manifest URL', () => {
    const input = lines('#EXTM3U', '#EXT-X-DEFINE:QUERYPARAM="sig"', 'seg.ts?s={$sig}');
    const { seen, tokenize } = recording();
    expect(rewrite(input, tokenize).text).toBe(
      lines('#EXTM3U', '#EXT-X-DEFINE:QUERYPARAM="sig"', 'seg.ts?s={$sig}&tok=G'),
    );
    expect(seen.map(({ url }) => url)).toEqual(['https://gw.example/live/cam1/seg.ts?s=a/b+c']);
  });

  it('QUERYPARAM naming a parameter the manifest URL lacks leaves the reference unresolved', () => {
    const input = lines('#EXTM3U', '#EXT-X-DEFINE:QUERYPARAM="absent"', '{$absent}seg.ts');
    const result = rewrite(input);
    expect(result.text).toBe(input);
    expect(result.skipped).toEqual([
      { site: 'segment', uri: '{$absent}seg.ts', reason: 'unresolved-variable' },
    ]);
  });

  it('a variable that holds the "?" makes the token join with "&", not a second "?"', () => {
    const input = lines('#EXTM3U', '#EXT-X-DEFINE:NAME="auth",VALUE="?sig=x"', 'seg.mp4{$auth}');
    expect(rewrite(input).text).toBe(
      lines('#EXTM3U', '#EXT-X-DEFINE:NAME="auth",VALUE="?sig=x"', 'seg.mp4{$auth}&tok=G'),
    );
  });

  it('a variable whose value ends in "&" gets no second "&"', () => {
    const input = lines('#EXTM3U', '#EXT-X-DEFINE:NAME="q",VALUE="?a=1&"', 'seg.mp4{$q}');
    expect(rewrite(input).text).toBe(
      lines('#EXTM3U', '#EXT-X-DEFINE:NAME="q",VALUE="?a=1&"', 'seg.mp4{$q}tok=G'),
    );
  });

  it('the host a variable names decides: a foreign host behind {$cdn} is declined', () => {
    const input = lines(
      '#EXTM3U',
      '#EXT-X-DEFINE:NAME="cdn",VALUE="https://cdn.other.example"',
      '{$cdn}/a.ts',
    );
    const result = rewrite(input);
    expect(result.text).toBe(input);
    expect(result.skipped).toEqual([{ site: 'segment', uri: '{$cdn}/a.ts', reason: 'declined' }]);
  });

  it('IMPORT variables are unknown to a media playlist alone: unresolved-variable, URI left alone', () => {
    const input = lines('#EXTM3U', '#EXT-X-DEFINE:IMPORT="auth"', 'seg.ts{$auth}', '{$never}.ts');
    const result = rewrite(input);
    expect(result.text).toBe(input);
    expect(result.skipped.map(({ reason }) => reason)).toEqual([
      'unresolved-variable',
      'unresolved-variable',
    ]);
  });

  it('variables apply inside quoted URI attributes too', () => {
    const input = lines(
      '#EXTM3U',
      '#EXT-X-DEFINE:NAME="d",VALUE="keys/"',
      '#EXT-X-KEY:METHOD=AES-128,URI="{$d}k.bin"',
    );
    expect(rewrite(input).text).toBe(
      lines(
        '#EXTM3U',
        '#EXT-X-DEFINE:NAME="d",VALUE="keys/"',
        '#EXT-X-KEY:METHOD=AES-128,URI="{$d}k.bin?tok=G"',
      ),
    );
  });

  it('a grant that would have to change a variable value (an old token inside it) leaves the URI alone', () => {
    const input = lines('#EXTM3U', '#EXT-X-DEFINE:NAME="q",VALUE="?tok=old"', 'seg.ts{$q}');
    const result = rewrite(input);
    expect(result.text).toBe(input);
    expect(result.rewritten).toBe(0);
    expect(result.skipped).toEqual([{ site: 'segment', uri: 'seg.ts{$q}', reason: 'unresolved-variable' }]);
  });

  it('a rebase that would have to replace a host held in a variable leaves the URI alone', () => {
    const input = lines('#EXTM3U', '#EXT-X-DEFINE:NAME="up",VALUE="http://origin.internal"', '{$up}/a.ts');
    const result = rewrite(input, () => ({
      kind: 'query',
      params: [['tok', 'G']],
      rebaseTo: 'https://gw.example',
    }));
    expect(result.text).toBe(input);
    expect(result.skipped.map(({ reason }) => reason)).toEqual(['unresolved-variable']);
  });
});

describe('Lossless output and malformed input', () => {
  it('CRLF, a BOM, blank lines, tabs, unknown tags and a missing final newline are kept', () => {
    const input =
      '\uFEFF#EXTM3U\r\n#X-UNKNOWN\t:1\r\n\r\n#EXTINF:4,\ttitle\r\na.ts\r\n\r\n#EXTINF:4,\r\nb.ts';
    expect(rewrite(input).text).toBe(
      '\uFEFF#EXTM3U\r\n#X-UNKNOWN\t:1\r\n\r\n#EXTINF:4,\ttitle\r\na.ts?tok=G\r\n\r\n#EXTINF:4,\r\nb.ts?tok=G',
    );
  });

  it('a dangling #EXTINF at the end and tags after #EXT-X-ENDLIST are kept', () => {
    const input = lines(
      '#EXTM3U',
      '#EXTINF:4,',
      'a.ts',
      '#EXT-X-ENDLIST',
      '#EXT-X-DATERANGE:ID="x"',
      '#EXTINF:4,',
    );
    expect(rewrite(input).text).toBe(input.replace('a.ts', 'a.ts?tok=G'));
  });

  it('declining everything returns the very same text', () => {
    const input = lines('#EXTM3U', '#EXT-X-MAP:URI="i.mp4"', 'a.ts');
    const result = rewrite(input, () => undefined);
    expect(result.text).toBe(input);
    expect(result.skipped).toHaveLength(2);
  });

  it('text that does not start with #EXTM3U is returned unchanged with a reason, the tokenizer never asked', () => {
    const { seen, tokenize } = recording();
    for (const input of ['', 'seg.ts\n', ' #EXTM3U\nseg.ts\n', '\n#EXTM3U\nseg.ts', '<html>#EXTM3U</html>']) {
      const result = rewrite(input, tokenize);
      expect(result.text).toBe(input);
      expect(result.rewritten).toBe(0);
      expect(result.skipped).toEqual([]);
      expect(result.malformed).toMatch(/#EXTM3U/);
    }
    expect(seen).toEqual([]);
  });

  it('looksLikeHls accepts #EXTM3U first, after an optional BOM, and nothing else', () => {
    expect(looksLikeHls('#EXTM3U\n')).toBe(true);
    expect(looksLikeHls('\uFEFF#EXTM3U')).toBe(true);
    expect(looksLikeHls('#EXTM3')).toBe(false);
    expect(looksLikeHls(' #EXTM3U')).toBe(false);
    expect(looksLikeHls('<?xml version="1.0"?><MPD/>')).toBe(false);
  });
});
