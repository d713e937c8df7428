import { describe, expect, it } from 'vitest';
import { clientKey, DenialLimiter } from '../../src/gateway/policy.js';

// The denial limit as a leaky bucket per client address, on a clock the test holds: what is counted,
// when answers are slowed and refused, how long Retry-After says, and that memory stays bounded.

const settings = {
  refuseAfter: 5,
  windowSeconds: 10,
  slowAfter: 2,
  slowMs: 500,
  count: ['invalid', 'malformed'] as const,
  maxClients: 16,
};

describe('DenialLimiter', () => {
  it('slows past slowAfter, refuses for a whole window at refuseAfter, and lets the address back after it', () => {
    const limiter = new DenialLimiter({ ...settings, count: [...settings.count] });
    const t = 1_000_000;
    expect([1, 2, 3, 4].map((i) => limiter.note('203.0.113.7', 'invalid', t + i))).toEqual([0, 0, 500, 500]);
    expect(limiter.blocked('203.0.113.7', t + 5)).toBeUndefined();
    expect(limiter.note('203.0.113.7', 'malformed', t + 6)).toBe(500);
    expect(limiter.blocked('203.0.113.7', t + 7)).toBe(10);
    expect(limiter.blocked('203.0.113.7', t + 6 + 9_500)).toBe(1);
    expect(limiter.blocked('203.0.113.7', t + 6 + 10_000)).toBeUndefined();
    // After the window the count has drained: the next denial is not slowed.
    expect(limiter.note('203.0.113.7', 'invalid', t + 6 + 10_000)).toBe(0);
  });

  it('counts only the configured reasons, and drains at refuseAfter per window', () => {
    const limiter = new DenialLimiter({ ...settings, count: ['invalid'] });
    for (let i = 0; i < 50; i += 1) expect(limiter.note('203.0.113.7', 'expired', i)).toBe(0);
    expect(limiter.size).toBe(0);
    // One denial every 2 s drains as fast as it fills (5 per 10 s): never slowed, never refused.
    for (let i = 0; i < 50; i += 1) expect(limiter.note('203.0.113.7', 'invalid', i * 2000)).toBe(0);
    expect(limiter.blocked('203.0.113.7', 100_000)).toBeUndefined();
  });

  it('remembers at most maxClients addresses, forgetting the least recently counted', () => {
    const limiter = new DenialLimiter({ ...settings, count: ['invalid'] });
    limiter.note('192.0.2.1', 'invalid', 0);
    for (let i = 0; i < 10_000; i += 1) {
      limiter.note(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'invalid', i);
      // One address keeps guessing: it stays remembered however many others come.
      if (i % 4 === 0) limiter.note('198.51.100.1', 'invalid', i);
      expect(limiter.size).toBeLessThanOrEqual(16);
    }
    expect(limiter.blocked('198.51.100.1', 10_000)).toBeGreaterThan(0);
  });
});

describe('clientKey: IPv6 clients by /64, IPv4 by address', () => {
  it('folds every address of one /64 together, however it is written', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('fe80::')).toBe('fe80:0:0:0::/64');
    expect(clientKey('2001:db8:1:2:3::')).toBe('2001:db8:1:2::/64');
  });
});
