import { describe, expect, it } from 'vitest';
import { SiteGuard } from '../../src/server/site-guard.js';

// The Host rule for servers started beyond loopback, which a test cannot
// listen on here (only loopback addresses are ours): the guard alone,
// given the headers a request would carry.

function admitted(guard: SiteGuard, host: string): boolean {
  return guard.hostRefusal({ host }) === undefined;
}

describe('the Host rule of a server started beyond loopback', () => {
  it('started for a name or address, it answers to that one and to loopback names, with any port, and refuses the rest', () => {
    const named = SiteGuard.for('tasks.example.com');
    for (const host of ['tasks.example.com', 'tasks.example.com:8080', 'TASKS.example.com.', 'localhost:8080', '127.0.0.1', '[::1]:8080']) expect(admitted(named, host), host).toBe(true);
    for (const host of ['attacker.example', 'tasks.example.com.attacker.example', 'example.com', '192.0.2.10']) expect(admitted(named, host), host).toBe(false);
    expect(named.hostRefusal({ host: 'attacker.example' })).toEqual({
      status: 403,
      body: { error: { code: 'HOST_NOT_ALLOWED', message: 'Host "attacker.example" is not a name of this server (it answers to tasks.example.com, localhost, 127.0.0.1, [::1]): a page on another site may be trying to reach it through DNS rebinding' } },
    });
    const v4 = SiteGuard.for('192.0.2.10');
    expect(admitted(v4, '192.0.2.10:8080')).toBe(true);
    expect(admitted(v4, 'tasks.example.com')).toBe(false);
    // listen() takes an IPv6 address bare; a Host header puts it in brackets.
    const v6 = SiteGuard.for('2001:db8::5');
    expect(admitted(v6, '[2001:db8::5]:8080')).toBe(true);
    expect(admitted(v6, '[2001:db8:0:0::5]')).toBe(true);
    expect(admitted(v6, '[2001:db8::6]')).toBe(false);
  });

  it('started on every address (0.0.0.0 or ::), where a token is required, it answers to any well-formed Host', () => {
    for (const bind of ['0.0.0.0', '::']) {
      const wide = SiteGuard.for(bind);
      for (const host of ['tasks.example.com:8080', '192.0.2.10', '[2001:db8::5]:8080', 'localhost']) expect(admitted(wide, host), `${bind} ${host}`).toBe(true);
      for (const host of ['', 'evil@192.0.2.10', 'a/b', 'a b']) expect(admitted(wide, host), `${bind} ${JSON.stringify(host)}`).toBe(false);
    }
  });
});
