import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { Agent, request } from 'undici';
import {
  AddressGuard,
  AddressRefusedError,
  findAddressRefusal,
  parseAllowEntry,
  refusedRange,
  type AllowEntry,
} from '../../src/outbound/address-guard.js';

const allow = (...entries: string[]): AllowEntry[] =>
  entries.map((e) => {
    const parsed = parseAllowEntry(e);
    assert.ok(parsed, `${e} should parse`);
    return parsed;
  });

describe('refusedRange', () => {
  const refused: [string, string][] = [
    // IPv4
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.169.254', 'linkLocal'],
    ['169.254.0.1', 'linkLocal'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.10', 'reserved'], // TEST-NET-1
    ['198.51.100.7', 'reserved'], // TEST-NET-2
    ['203.0.113.9', 'reserved'], // TEST-NET-3
    ['198.18.0.1', 'reserved'], // benchmarking
    // IPv6
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['febf::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'], // documentation
    ['100::1', 'discard'],
    // IPv6 forms of IPv4 addresses: judged as the IPv4 address they reach
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['::ffff:10.1.2.3', 'IPv4-mapped private'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped linkLocal'],
    ['::ffff:0:0', 'IPv4-mapped unspecified'],
    ['::7f00:1', 'IPv4-compatible'],
    ['::a00:1', 'IPv4-compatible'],
    ['::0808:0808', 'IPv4-compatible'],
    ['64:ff9b::7f00:1', 'NAT64 of loopback'],
    ['64:ff9b::c0a8:101', 'NAT64 of private'],
    ['64:ff9b:1::1', 'rfc6052'],
    ['2002:7f00:1::', '6to4 of loopback'],
    ['2002:a9fe:a9fe::1', '6to4 of linkLocal'],
    ['2001:0:4136:e378::1', 'teredo'],
  ];
  for (const [address, range] of refused) {
    test(`${address} is refused as ${range}`, () => assert.equal(refusedRange(address), range));
  }

  const allowed = [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.215.14',
    '172.32.0.1', // just outside 172.16/12
    '100.128.0.1', // just outside 100.64/10
    '169.253.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:81c::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808', // NAT64 of 8.8.8.8
    '2002:808:808::1', // 6to4 of 8.8.8.8
  ];
  for (const address of allowed) {
    test(`${address} is allowed`, () => assert.equal(refusedRange(address), undefined));
  }

  test('what is not an address is refused', () => {
    assert.equal(refusedRange('localhost'), 'not an IP address');
  });
});

describe('parseAllowEntry', () => {
  test('host names, addresses and CIDRs', () => {
    assert.deepEqual(parseAllowEntry('Internal.Example.COM.'), {
      kind: 'host',
      name: 'internal.example.com',
    });
    assert.equal(parseAllowEntry('localhost')?.kind, 'host');
    assert.equal(parseAllowEntry('127.0.0.1')?.kind, 'range');
    assert.equal(parseAllowEntry('[::1]')?.kind, 'range');
    assert.equal(parseAllowEntry('10.0.0.0/8')?.kind, 'range');
    assert.equal(parseAllowEntry('fd00::/8')?.kind, 'range');
  });
  test('anything else is refused', () => {
    for (const bad of ['', 'http://x', '10.0.0.0/33', 'a b', '-bad-.com', '10.0.0.0/', 'x/8']) {
      assert.equal(parseAllowEntry(bad), undefined, bad);
    }
  });
});

describe('AddressGuard', () => {
  const fixed =
    (answers: Record<string, string[]>) =>
    (host: string): Promise<{ address: string; family: number }[]> => {
      const list = answers[host];
      if (!list) return Promise.reject(new Error(`getaddrinfo ENOTFOUND ${host}`));
      return Promise.resolve(list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
    };

  test('a host with one refused address among public ones is refused', async () => {
    const guard = new AddressGuard([], fixed({ 'mixed.test': ['8.8.8.8', '10.0.0.5'] }));
    await assert.rejects(guard.addresses('mixed.test'), (err) => {
      assert.ok(err instanceof AddressRefusedError);
      assert.equal(err.address, '10.0.0.5');
      assert.match(err.message, /10\.0\.0\.5 \(private\) of host mixed\.test/);
      return true;
    });
  });

  test('public hosts and literals pass; refused literals do not', async () => {
    const guard = new AddressGuard([], fixed({ 'public.test': ['8.8.8.8', '2606:4700::1'] }));
    assert.equal((await guard.addresses('public.test')).length, 2);
    assert.deepEqual(await guard.addresses('8.8.8.8'), [{ address: '8.8.8.8', family: 4 }]);
    await assert.rejects(guard.addresses('[::ffff:127.0.0.1]'), AddressRefusedError);
    await assert.rejects(guard.addresses('169.254.169.254'), /linkLocal/);
  });

  test('HTTP_ALLOW_HOSTS allows by host name, address or range', async () => {
    const resolver = fixed({ 'db.internal': ['10.1.2.3'], 'other.internal': ['10.9.9.9'] });
    const byName = new AddressGuard(allow('DB.internal'), resolver);
    assert.equal((await byName.addresses('db.internal')).length, 1);
    await assert.rejects(byName.addresses('other.internal'), AddressRefusedError);

    const byRange = new AddressGuard(allow('10.1.0.0/16', '::1'), resolver);
    assert.equal((await byRange.addresses('db.internal')).length, 1);
    await assert.rejects(byRange.addresses('other.internal'), AddressRefusedError);
    assert.equal((await byRange.addresses('[::1]')).length, 1);
    // An allowed IPv4 range covers that range's IPv4-mapped form too.
    assert.equal((await byRange.addresses('::ffff:10.1.0.1')).length, 1);
    await assert.rejects(byRange.addresses('127.0.0.1'), AddressRefusedError);
  });

  test('the connection goes to the address that was checked (no second resolution)', async () => {
    const server = createServer((req, res) => res.end(`host header ${req.headers.host}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let resolutions = 0;
    // A rebinding name: public first, loopback after. Only one resolution may ever happen per connection.
    const rebinding = () => {
      resolutions++;
      return Promise.resolve([{ address: resolutions === 1 ? '127.0.0.1' : '8.8.8.8', family: 4 }]);
    };
    const allowed = new AddressGuard(allow('127.0.0.1'), rebinding);
    const agent = new Agent({ connect: { lookup: allowed.lookup } });
    try {
      const res = await request(`http://rebind.test:${port}/`, { dispatcher: agent });
      assert.equal(await res.body.text(), `host header rebind.test:${port}`);
      assert.equal(resolutions, 1);

      const refusing = new AddressGuard([], () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]));
      const guarded = new Agent({ connect: { lookup: refusing.lookup } });
      await assert.rejects(request(`http://evil.test:${port}/`, { dispatcher: guarded }), (err) => {
        assert.ok(findAddressRefusal(err), `expected a refusal, got ${String(err)}`);
        return true;
      });
      await guarded.close();
    } finally {
      await agent.close();
      server.close();
    }
  });
});
