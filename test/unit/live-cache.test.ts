import { describe, expect, it } from 'vitest';
import { LiveCache, type SharedOutcome } from '../../src/gateway/live-cache.js';
import { liveWindowMs, sharePolicy, isoDurationSeconds } from '../../src/gateway/manifest.js';

function live(sequence: number, extra: Record<string, string> = {}): SharedOutcome {
  const text = `#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:${sequence}\n#EXTINF:4,\ns${sequence}.ts\n`;
  return {
    type: 'manifest',
    shareable: sharePolicy(extra).shareable,
    manifest: { kind: 'hls', text, bytes: Buffer.from(text), headers: extra, isStatic: false },
  };
}

describe('live manifest cache: bounded, per URL, obeying Cache-Control', () => {
  it('keeps at most maxEntries, dropping the oldest first', async () => {
    const cache = new LiveCache(2, 1 << 20);
    for (const key of ['/a.m3u8', '/b.m3u8', '/c.m3u8']) await cache.start(key, async () => live(1));
    expect(cache.size).toBe(2);
    expect(cache.fresh('/a.m3u8')).toBeUndefined();
    expect(cache.fresh('/c.m3u8')?.text).toContain('s1.ts');
  });

  it('keeps at most maxBytes', async () => {
    const cache = new LiveCache(100, 600);
    for (const key of ['/a.m3u8', '/b.m3u8', '/c.m3u8']) await cache.start(key, async () => live(1));
    expect(cache.size).toBeLessThan(3);
  });

  it('one pending fetch per URL while it runs', async () => {
    const cache = new LiveCache(10, 1 << 20);
    let release!: (outcome: SharedOutcome) => void;
    const first = cache.start('/a.m3u8', () => new Promise((resolve) => (release = resolve)));
    expect(cache.pending('/a.m3u8')).toBe(first);
    release(live(7));
    await first;
    expect(cache.pending('/a.m3u8')).toBeUndefined();
    expect(cache.fresh('/a.m3u8')?.text).toContain('s7.ts');
  });

  it('a private answer is not kept, and the URL is remembered as private', async () => {
    const cache = new LiveCache(10, 1 << 20);
    await cache.start('/p.m3u8', async () => live(1, { 'cache-control': 'no-cache' }));
    expect(cache.fresh('/p.m3u8')).toBeUndefined();
    expect(cache.isPrivate('/p.m3u8')).toBe(true);
  });

  it('an entry expires after its window: half the target duration, or the origin’s max-age if shorter', async () => {
    const cache = new LiveCache(10, 1 << 20);
    await cache.start('/w.m3u8', async () => live(1));
    await cache.start('/m.m3u8', async () => live(1, { 'cache-control': 'max-age=1' }));
    const now = performance.now();
    expect(cache.fresh('/w.m3u8', now + 1900)).toBeDefined();
    expect(cache.fresh('/w.m3u8', now + 2100)).toBeUndefined();
    expect(cache.fresh('/m.m3u8', now + 900)).toBeDefined();
    expect(cache.fresh('/m.m3u8', now + 1100)).toBeUndefined();
  });
});

describe('RFC 9111 §5.2.2: what may be shared', () => {
  it('no-store, no-cache, private, max-age=0, Set-Cookie and Vary on other fields are never shared', () => {
    for (const headers of [
      { 'cache-control': 'no-store' },
      { 'cache-control': 'public, no-cache' },
      { 'cache-control': 'private, max-age=5' },
      { 'cache-control': 'max-age=0' },
      { 'cache-control': 'max-age=10, s-maxage=0' },
      { 'set-cookie': ['a=1'] },
      { vary: 'Cookie' },
      { pragma: 'no-cache' },
    ]) {
      expect(sharePolicy(headers).shareable, JSON.stringify(headers)).toBe(false);
    }
    expect(sharePolicy({})).toEqual({ shareable: true });
    expect(sharePolicy({ 'cache-control': 'public, max-age=2' })).toEqual({
      shareable: true,
      maxAgeMs: 2000,
    });
    expect(sharePolicy({ 'cache-control': 'max-age=10, s-maxage=1', vary: 'Accept-Encoding' })).toEqual({
      shareable: true,
      maxAgeMs: 1000,
    });
  });

  it('the window is half the reload interval: target duration, part target, or minimumUpdatePeriod', () => {
    expect(liveWindowMs('hls', '#EXTM3U\n#EXT-X-TARGETDURATION:6\n')).toBe(3000);
    expect(liveWindowMs('hls', '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PART-INF:PART-TARGET=1.004\n')).toBe(
      502,
    );
    expect(liveWindowMs('hls', '#EXTM3U\n')).toBe(1000);
    expect(liveWindowMs('dash', '<MPD type="dynamic" minimumUpdatePeriod="PT10S">')).toBe(5000);
    expect(liveWindowMs('dash', '<MPD type="dynamic">')).toBe(1000);
    expect(isoDurationSeconds('PT1M30.5S')).toBe(90.5);
    expect(isoDurationSeconds('P0Y0M0DT0H0M2S')).toBe(2);
    expect(isoDurationSeconds('PT')).toBeUndefined();
  });
});

describe('live manifest cache: a failed fetch', () => {
  it('is not left pending: the next viewer starts a new one', async () => {
    const cache = new LiveCache(10, 1 << 20);
    await expect(cache.start('/f.m3u8', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(cache.pending('/f.m3u8')).toBeUndefined();
  });
});
