// Seals and unseals AuthKit cookies with WorkOS's own JavaScript iron implementations, so the
// Rust side (src/authkit/iron.rs) is checked against the real thing in both directions.
//
//   node iron.mjs fixtures   writes ../../tests/fixtures/iron/js-seals.json (commit it)
//   node iron.mjs unseal     reads {"cases": [...]} on stdin, prints {"results": [...]}
//
// The implementations, pinned in package-lock.json:
//   @workos-inc/node 12.3.0  sealData / unsealData (it bundles iron-webcrypto 2.0.0), reached
//                            through userManagement.sealSessionDataFromAuthenticationResponse
//                            and userManagement.getSessionFromCookie
//   iron-session 8.0.4       what authkit-nextjs 4.x seals its cookie and sign-in state with
//                            (it brings iron-webcrypto 1.2.1)
//   iron-webcrypto 2.0.0     the primitive itself: fixed salts and IV for byte-equal seals,
//                            a password without id, a seal without the `~2` suffix, and
//                            unsealing at a given instant

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ironWebcrypto from 'iron-webcrypto';
import { sealData as ironSessionSeal, unsealData as ironSessionUnseal } from 'iron-session';
import { WorkOS } from '@workos-inc/node';

const here = dirname(fileURLToPath(import.meta.url));
const fixturesDir = join(here, '..', '..', 'tests', 'fixtures', 'iron');

function installedVersion(path) {
  return JSON.parse(readFileSync(join(here, 'node_modules', path, 'package.json'), 'utf8')).version;
}

const versions = {
  node: process.version,
  '@workos-inc/node': installedVersion('@workos-inc/node'),
  'iron-session': installedVersion('iron-session'),
  'iron-session/iron-webcrypto': installedVersion('iron-session/node_modules/iron-webcrypto'),
  'iron-webcrypto': installedVersion('iron-webcrypto'),
};

// Test passwords only: public by design, never used outside these fixtures.
const PASSWORD_A = 'test-password-A-0123456789abcdefghijklmnopqrstuvwxyz';
const PASSWORD_B = 'test-password-B-0123456789abcdefghijklmnopqrstuvwxyz';
const PASSWORD_C = 'test-password-C-0123456789abcdefghijklmnopqrstuvwxyz';
// Non-ASCII: PBKDF2 gets its UTF-8 bytes; the length rule counts UTF-16 code units.
const PASSWORD_UNICODE = 'pässwörd-ünïcödé-🔐-with-more-than-32-characters';

// A JWT that decodes (the Node SDK reads `org_id` from it when sealing); never verified here.
function fakeJwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'sso_oidc_key_pair_fixture', typ: 'JWT' })}.${part(claims)}.${Buffer.from('not-a-signature').toString('base64url')}`;
}

const accessToken = fakeJwt({
  iss: 'https://api.workos.com/user_management/client_fixture',
  sub: 'user_01HFIXTURE00000000000000',
  sid: 'session_01HFIXTURE0000000000000',
  org_id: 'org_01HFIXTURE000000000000000',
  role: 'admin',
  permissions: ['posts:read', 'posts:write'],
  exp: 1893456000,
  iat: 1893455700,
});

// The user as @workos-inc/node 12 hands it over (deserializeUser): camelCase, Dates.
const sdkUser = {
  object: 'user',
  id: 'user_01HFIXTURE00000000000000',
  email: 'ada@example.com',
  emailVerified: true,
  name: 'Ada Lovelace',
  firstName: 'Ada',
  profilePictureUrl: 'https://workoscdn.com/images/ada.png',
  lastName: 'Lovelace',
  lastSignInAt: new Date('2026-11-30T09:15:00.000Z'),
  locale: 'en-GB',
  createdAt: new Date('2024-01-02T03:04:05.678Z'),
  updatedAt: new Date('2026-11-30T09:15:00.000Z'),
  externalId: null,
  metadata: { plan: 'pro' },
};

const authkitNextjsSession = {
  accessToken,
  refreshToken: 'refresh_fixture_01HFIXTURE0000000000000',
  user: sdkUser,
  impersonator: { email: 'admin@example.com', reason: 'Support ticket 42' },
};

const unicodePayload = {
  accessToken,
  refreshToken: 'refresh_fixture_unicode',
  user: {
    object: 'user',
    id: 'user_01HUNICODE0000000000000',
    email: 'zoë@exämple.com',
    emailVerified: false,
    firstName: 'Zoë 👩‍💻',
    lastName: 'Ñúñez "quoted" \\ back\nslash',
    profilePictureUrl: null,
    createdAt: '2024-01-02T03:04:05.678Z',
    updatedAt: '2024-01-02T03:04:05.678Z',
  },
  organizationId: 'org_01HUNICODE00000000000000',
};

// The randomness of the byte-equal cases: hex salts (the text is the PBKDF2 salt) and an IV.
const GOLDEN = {
  encryption_salt: 'a3'.repeat(8) + '0123456789abcdef'.repeat(3),
  integrity_salt: 'fe'.repeat(8) + 'fedcba9876543210'.repeat(3),
  iv_hex: '000102030405060708090a0b0c0d0e0f',
};

// iron-webcrypto 2's default encoder refuses anything but plain JSON values (a Date, say);
// @workos-inc/node passes JSON.stringify, and so do we wherever the payload holds Dates.
const jsonDefaults = { ...ironWebcrypto.defaults, encode: JSON.stringify };

function goldenOptions() {
  return {
    ...jsonDefaults,
    encryption: {
      ...ironWebcrypto.defaults.encryption,
      salt: GOLDEN.encryption_salt,
      iv: Uint8Array.from(Buffer.from(GOLDEN.iv_hex, 'hex')),
    },
    integrity: { ...ironWebcrypto.defaults.integrity, salt: GOLDEN.integrity_salt },
  };
}

// iron-session's own import of iron-webcrypto 1.2.1 (takes the crypto object first).
async function importIronWebcryptoV1() {
  const path = join(here, 'node_modules', 'iron-session', 'node_modules', 'iron-webcrypto', 'dist', 'index.js');
  return import(path);
}

const workos = new WorkOS('sk_test_fixtures_only', { clientId: 'client_fixture' });

function expiration(seal) {
  const field = seal.split('~')[0].split('*')[5];
  return field === '' ? null : Number(field);
}

async function fixtures() {
  const cases = [];
  const add = (entry) => {
    cases.push({ ...entry, expected: JSON.parse(JSON.stringify(entry.expected)) });
  };

  // @workos-inc/node: the session cookie exactly as the SDK seals it (password id 1, no exp, ~2),
  // including authenticationMethod, which our payload does not carry (ignored on read).
  {
    const sealed_at_ms = Date.now();
    const seal = await workos.userManagement.sealSessionDataFromAuthenticationResponse({
      authenticationResponse: {
        user: sdkUser,
        accessToken,
        refreshToken: 'refresh_fixture_workos_node',
        authenticationMethod: 'GoogleOAuth',
        impersonator: undefined,
      },
      cookiePassword: PASSWORD_A,
    });
    const expected = await workos.userManagement.getSessionFromCookie({ sessionData: seal, cookiePassword: PASSWORD_A });
    add({ name: 'workos-node-session', sealer: `@workos-inc/node ${versions['@workos-inc/node']} sealSessionDataFromAuthenticationResponse`, passwords: { 1: PASSWORD_A }, seal, sealed_at_ms, expires_at_ms: expiration(seal), expected });
  }

  // authkit-nextjs: encryptSession() is iron-session's sealData(session, { password, ttl: 0 }).
  {
    const sealed_at_ms = Date.now();
    const seal = await ironSessionSeal(authkitNextjsSession, { password: PASSWORD_A, ttl: 0 });
    add({ name: 'authkit-nextjs-session', sealer: `iron-session ${versions['iron-session']} sealData ttl 0`, passwords: { 1: PASSWORD_A }, seal, sealed_at_ms, expires_at_ms: expiration(seal), expected: authkitNextjsSession });
  }

  // authkit-nextjs getAuthorizationUrl(): the sign-in state, sealed for 600 s.
  {
    const state = { nonce: '6f1c2a8e-3b5d-4c7e-9f10-2a3b4c5d6e7f', codeVerifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', customState: 'from=/billing', returnPathname: '/billing' };
    const sealed_at_ms = Date.now();
    const seal = await ironSessionSeal(state, { password: PASSWORD_A, ttl: 600 });
    add({ name: 'authkit-nextjs-sign-in-state', sealer: `iron-session ${versions['iron-session']} sealData ttl 600`, passwords: { 1: PASSWORD_A }, seal, sealed_at_ms, expires_at_ms: expiration(seal), expected: state });
  }

  // Rotation: iron-session seals with the highest numeric id of the map.
  {
    const sealed_at_ms = Date.now();
    const seal = await ironSessionSeal(authkitNextjsSession, { password: { 1: PASSWORD_A, 2: PASSWORD_B }, ttl: 0 });
    add({ name: 'iron-session-rotated-to-2', sealer: `iron-session ${versions['iron-session']} sealData {1, 2}`, passwords: { 1: PASSWORD_A, 2: PASSWORD_B }, seal, sealed_at_ms, expires_at_ms: expiration(seal), expected: authkitNextjsSession });
  }
  {
    // Numeric, not lexicographic: 10 beats 9.
    const sealed_at_ms = Date.now();
    const seal = await ironSessionSeal(unicodePayload, { password: { 1: PASSWORD_A, 9: PASSWORD_B, 10: PASSWORD_C }, ttl: 0 });
    add({ name: 'iron-session-rotated-to-10', sealer: `iron-session ${versions['iron-session']} sealData {1, 9, 10}`, passwords: { 1: PASSWORD_A, 9: PASSWORD_B, 10: PASSWORD_C }, seal, sealed_at_ms, expires_at_ms: expiration(seal), expected: unicodePayload });
  }

  // iron-webcrypto 2.0.0 directly: a non-ASCII password, a password without id (sealed with an
  // empty id, read back as "default"), and a seal without the version suffix.
  {
    const sealed_at_ms = Date.now();
    const seal = `${await ironWebcrypto.seal(unicodePayload, { id: '1', secret: PASSWORD_UNICODE }, jsonDefaults)}~2`;
    add({ name: 'iron-webcrypto-unicode-password', sealer: `iron-webcrypto ${versions['iron-webcrypto']} seal`, passwords: { 1: PASSWORD_UNICODE }, seal, sealed_at_ms, expires_at_ms: expiration(seal), expected: unicodePayload });
  }
  {
    const sealed_at_ms = Date.now();
    const seal = await ironWebcrypto.seal(authkitNextjsSession, PASSWORD_B, jsonDefaults);
    add({ name: 'iron-webcrypto-default-id-no-suffix', sealer: `iron-webcrypto ${versions['iron-webcrypto']} seal, string password`, passwords: { default: PASSWORD_B }, seal, sealed_at_ms, expires_at_ms: expiration(seal), expected: authkitNextjsSession });
  }
  {
    // Tokens of a realistic size: the ciphertext spans a few hundred blocks.
    const big = { ...authkitNextjsSession, accessToken: fakeJwt({ sub: sdkUser.id, permissions: Array.from({ length: 60 }, (_, i) => `resource${i}:read`) }) };
    const sealed_at_ms = Date.now();
    const seal = await ironSessionSeal(big, { password: PASSWORD_A, ttl: 0 });
    add({ name: 'iron-session-large', sealer: `iron-session ${versions['iron-session']} sealData ttl 0`, passwords: { 1: PASSWORD_A }, seal, sealed_at_ms, expires_at_ms: expiration(seal), expected: big });
  }

  // Byte-equal seals: fixed salts and IV, so the Rust sealer must produce these exact strings
  // from the same plaintext. Both iron-webcrypto versions are asked; they must agree.
  const ironV1 = await importIronWebcryptoV1();
  const golden = [];
  for (const [name, payload, password] of [
    ['golden-session', authkitNextjsSession, PASSWORD_A],
    ['golden-unicode', unicodePayload, PASSWORD_UNICODE],
    ['golden-empty-object', {}, PASSWORD_A],
  ]) {
    const plaintext = JSON.stringify(payload);
    const v2 = await ironWebcrypto.seal(payload, { id: '1', secret: password }, goldenOptions());
    const v1 = await ironV1.seal(globalThis.crypto, payload, { id: '1', secret: password }, goldenOptions());
    if (v1 !== v2) throw new Error(`iron-webcrypto 1 and 2 disagree on ${name}`);
    golden.push({ name, password_id: '1', password, plaintext, ...GOLDEN, seal: `${v2}~2` });
  }

  // Which passwords JS accepts: its rule counts UTF-16 code units, not bytes or characters.
  const passwordChecks = [];
  for (const password of ['x'.repeat(31), 'x'.repeat(32), 'é'.repeat(31), 'é'.repeat(32), '🔐'.repeat(15), '🔐'.repeat(16), '🔐'.repeat(15) + 'x', '']) {
    let accepted;
    try {
      await ironWebcrypto.seal({}, { id: '1', secret: password }, ironWebcrypto.defaults);
      accepted = true;
    } catch {
      accepted = false;
    }
    passwordChecks.push({ password, accepted });
  }

  mkdirSync(fixturesDir, { recursive: true });
  const out = {
    about: 'Seals made by WorkOS\'s JavaScript iron implementations (scripts/iron-fixtures/iron.mjs fixtures). The passwords are test values.',
    generated_by: versions,
    cases,
    golden,
    password_checks: passwordChecks,
  };
  writeFileSync(join(fixturesDir, 'js-seals.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.error(`wrote ${cases.length} seals, ${golden.length} byte-equal seals, ${passwordChecks.length} password checks to ${join(fixturesDir, 'js-seals.json')}`);
}

function describe(error) {
  return error instanceof Error ? error.message : String(error);
}

// Every reader is asked separately; the SDK wrappers turn some failures into `{}`, which the
// caller sees as data and compares like any other.
const readers = {
  // iron-webcrypto 2.0.0 with the suffix handling of @workos-inc/node and an optional instant.
  'iron-webcrypto': async ({ seal, passwords, at_ms }) => {
    const [core] = seal.split('~');
    const options = { ...ironWebcrypto.defaults, localtimeOffsetMsec: at_ms == null ? 0 : at_ms - Date.now() };
    return ironWebcrypto.unseal(core, passwords, options);
  },
  // authkit-nextjs's reader: iron-session's unsealData with the password map.
  'iron-session': async ({ seal, passwords }) => ironSessionUnseal(seal, { password: passwords }),
  // @workos-inc/node's reader, which knows a single password (id 1).
  'workos-node': async ({ seal, passwords }) => {
    const ids = Object.keys(passwords);
    if (ids.length !== 1 || ids[0] !== '1') throw new Error('workos-node reads with one password, id 1');
    return workos.userManagement.getSessionFromCookie({ sessionData: seal, cookiePassword: passwords['1'] });
  },
};

async function unsealFromStdin() {
  const input = JSON.parse(readFileSync(0, 'utf8'));
  const results = [];
  for (const entry of input.cases) {
    const result = { name: entry.name };
    for (const reader of entry.readers) {
      try {
        const data = await readers[reader](entry);
        result[reader] = { ok: true, data: JSON.parse(JSON.stringify(data ?? null)) };
      } catch (error) {
        result[reader] = { ok: false, error: describe(error) };
      }
    }
    results.push(result);
  }
  process.stdout.write(`${JSON.stringify({ versions, results })}\n`);
}

const command = process.argv[2];
if (command === 'fixtures') {
  await fixtures();
} else if (command === 'unseal') {
  await unsealFromStdin();
} else {
  console.error('usage: node iron.mjs fixtures | unseal < cases.json');
  process.exit(2);
}
