// The failed-authentication limiter's arithmetic, with the clock passed in (the HTTP behaviour is in
// test/acceptance/auth-rate-limit.test.ts).
import { describe, expect, it } from 'vitest';
import { clientKey, FailedAuthLimiter } from '../../api/rate-limit';

function limiterAt(start = 1_000_000, options = {}) {
  const clock = { now: start };
  const limiter = new FailedAuthLimiter(
    { maxFailures: 3, windowMs: 10_000, rememberMs: 60_000, ...options },
    () => clock.now,
  );
  return { limiter, clock };
}

describe('FailedAuthLimiter', () => {
  it('blocks after maxFailures within the window and says how long to wait', () => {
    const { limiter, clock } = limiterAt();
    limiter.failed('1.2.3.4');
    clock.now += 2000;
    limiter.failed('1.2.3.4');
    expect(limiter.blockedFor('1.2.3.4', undefined)).toBe(0);
    limiter.failed('1.2.3.4');
    expect(limiter.blockedFor('1.2.3.4', undefined)).toBe(8); // the first failure leaves the window 8s from now
    expect(limiter.blockedFor('5.6.7.8', undefined)).toBe(0);
    clock.now += 7_500;
    expect(limiter.blockedFor('1.2.3.4', 'any')).toBe(1);
    clock.now += 500;
    expect(limiter.blockedFor('1.2.3.4', undefined)).toBe(0);
  });

  it('slides: once unblocked, one more failure blocks again until the next oldest failure leaves the window', () => {
    const { limiter, clock } = limiterAt();
    for (const step of [0, 1000, 1000]) {
      clock.now += step;
      limiter.failed('c');
    }
    clock.now += 8000; // the first failure has left the window
    expect(limiter.blockedFor('c', undefined)).toBe(0);
    limiter.failed('c');
    expect(limiter.blockedFor('c', undefined)).toBe(1); // the second failure leaves in 1s
  });

  it('does not count successes, and lets a token that worked from the client through its block', () => {
    const { limiter, clock } = limiterAt();
    limiter.succeeded('c', 'good');
    for (let i = 0; i < 3; i++) limiter.failed('c');
    limiter.succeeded('c', 'good');
    expect(limiter.blockedFor('c', 'good')).toBe(0);
    expect(limiter.blockedFor('c', 'other')).toBeGreaterThan(0);
    expect(limiter.blockedFor('c', undefined)).toBeGreaterThan(0);
    limiter.succeeded('d', 'elsewhere');
    expect(limiter.blockedFor('c', 'elsewhere')).toBeGreaterThan(0); // remembered per client, not globally
    clock.now += 61_000; // remembered for rememberMs only; by then the failures are gone too
    for (let i = 0; i < 3; i++) limiter.failed('c');
    expect(limiter.blockedFor('c', 'good')).toBeGreaterThan(0);
  });

  it('forgets the least recently seen clients beyond maxClients', () => {
    const { limiter } = limiterAt(0, { maxClients: 2 });
    for (let i = 0; i < 3; i++) limiter.failed('a');
    limiter.failed('b');
    limiter.failed('c');
    expect(limiter.blockedFor('a', undefined)).toBe(0);
  });
});

describe('clientKey', () => {
  it('uses IPv4 addresses as they are, including IPv4-mapped IPv6', () => {
    expect(clientKey('10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey(undefined)).toBe('unknown');
  });

  it('groups IPv6 addresses by /64', () => {
    expect(clientKey('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:0db8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
