import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, flagName, loadConfig, settings } from '../../src/server/config.js';

describe('config', () => {
  it('has the documented defaults with nothing set', () => {
    const c = loadConfig({});
    assert.equal(c.port, 3000);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.dataDir, './data');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.redisUrl, undefined);
    assert.equal(c.allowedOrigins, undefined);
    assert.equal(c.guests, true);
    assert.equal(c.tls, undefined);
    assert.equal(c.maxPayload, 65536);
    assert.equal(c.maxText, 4000);
    assert.equal(c.heartbeatMs, 30000);
    assert.deepEqual(c.trustProxyList, []);
  });

  it('reads the environment, and a flag wins over it', () => {
    const c = loadConfig({ PORT: '4000', GUESTS: 'off', RATE_LIMIT: '0' }, { PORT: '5000' });
    assert.equal(c.port, 5000);
    assert.equal(c.guests, false);
    assert.equal(c.rateLimit, 0);
  });

  it('reads ADMINS as names, and refuses one that is no user name', () => {
    assert.deepEqual(loadConfig({}).admins, []);
    assert.deepEqual(loadConfig({ ADMINS: ' alice , Bob Smith,' }).admins, ['alice', 'Bob Smith']);
    assert.throws(
      () => loadConfig({ ADMINS: 'alice,' + 'x'.repeat(40) }),
      (err: unknown) => err instanceof ConfigError && /ADMINS=.*at most 32 characters/.test(err.message),
    );
  });

  it('parses trusted proxies as addresses and CIDRs of both families', () => {
    const c = loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8 ,fd00::/8' });
    assert.ok(c.trustProxy.check('127.0.0.1', 'ipv4'));
    assert.ok(c.trustProxy.check('10.20.30.40', 'ipv4'));
    assert.ok(!c.trustProxy.check('11.0.0.1', 'ipv4'));
    assert.ok(c.trustProxy.check('fd12::1', 'ipv6'));
  });

  it('names every bad value in one error', () => {
    assert.throws(
      () => loadConfig({ PORT: 'abc', ALLOWED_ORIGINS: 'not a url', TRUST_PROXY: '10.0.0.0/40' }, { HEARTBEAT_MS: '5' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /PORT="abc"/);
        assert.match(err.message, /ALLOWED_ORIGINS/);
        assert.match(err.message, /TRUST_PROXY/);
        assert.match(err.message, /--heartbeat-ms="5"/);
        return true;
      },
    );
  });

  it('never repeats a secret it refuses: the session key and URLs that may hold a password', () => {
    assert.throws(
      () => loadConfig({ SESSION_SECRET: 'hunter2-too-short', DATABASE_URL: 'mysql://u:pa55word@db/x', REDIS_URL: 'http://:pa55word@r' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /SESSION_SECRET=\(17 characters, not shown\): must be at least 32 characters/);
        assert.match(err.message, /DATABASE_URL=\(23 characters, not shown\): must start with postgres:\/\//);
        assert.match(err.message, /REDIS_URL=\(18 characters, not shown\)/);
        assert.doesNotMatch(err.message, /hunter2|pa55word/);
        return true;
      },
    );
  });

  it('says in words which values a setting takes, not in zod\'s', () => {
    assert.throws(
      () => loadConfig({ GUESTS: 'maybe', LOG_LEVEL: 'loud' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /GUESTS="maybe": must be on or off/);
        assert.match(err.message, /LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent/);
        assert.doesNotMatch(err.message, /Invalid option/);
        return true;
      },
    );
  });

  it('wants TLS_CERT and TLS_KEY together', () => {
    assert.throws(() => loadConfig({ TLS_CERT: '/x.pem' }), /TLS_CERT and TLS_KEY go together/);
  });

  it('refuses REDIS_URL without DATABASE_URL: each node would keep its own SQLite file', () => {
    assert.throws(
      () => loadConfig({ REDIS_URL: 'redis://:pa55word@127.0.0.1:6379' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /REDIS_URL needs DATABASE_URL/);
        assert.doesNotMatch(err.message, /pa55word/);
        return true;
      },
    );
    const c = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://db/parley' });
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(c.presenceTtlMs, 15000);
    assert.equal(c.presenceRefreshMs, 5000);
  });

  it('wants presence refreshed at least twice per TTL', () => {
    assert.throws(() => loadConfig({ PRESENCE_TTL_MS: '4000', PRESENCE_REFRESH_MS: '2500' }), /PRESENCE_REFRESH_MS \(2500\) must be at most half of PRESENCE_TTL_MS \(4000\)/);
    assert.throws(() => loadConfig({ PRESENCE_REFRESH_MS: '8000' }), /at most half of PRESENCE_TTL_MS \(15000\)/);
    const c = loadConfig({ PRESENCE_TTL_MS: '1000', PRESENCE_REFRESH_MS: '500' });
    assert.equal(c.presenceTtlMs, 1000);
    assert.equal(c.presenceRefreshMs, 500);
  });

  it('is documented: docs/operations.md lists every setting with its flag', () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    for (const name of Object.keys(settings)) {
      assert.ok(doc.includes(`| \`${name}\` | \`${flagName(name)}\` |`), `${name} is in the table`);
    }
  });
});
