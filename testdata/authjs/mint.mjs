// Mints Auth.js v5 session cookies with @auth/core's own code, as test vectors
// for the Go decoder in internal/authjs.
//
//   node mint.mjs [out.json]      write a fresh set of vectors (stdout without a path)
//   node mint.mjs verify in.json  read cookies minted elsewhere (the Go test encoder)
//                                 and print what Auth.js itself makes of them
//
// Every cookie that Auth.js could have written is made by @auth/core's `encode`
// (from @auth/core/jwt) and cut into chunks by its own SessionStore; the
// refusals that Auth.js never writes (wrong algorithms, tampering, a missing
// chunk) are derived from such cookies or made with `jose`, the library
// @auth/core itself encrypts with. Each vector also records how Auth.js' own
// reader (`getToken`: cookie parsing, chunk joining and `decode`) judged it at
// the minting time, so the committed file shows where the Go decoder is
// stricter on purpose.
//
// The clock is pinned while minting (MINT_TIME=<unix seconds>, default now):
// `iat`/`exp` and Auth.js' own verdicts are all taken at that one instant,
// which the Go test uses as its clock.
import { randomBytes, hkdfSync, createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { encode, getToken } from "@auth/core/jwt";
import { EncryptJWT, base64url } from "jose";
// SessionStore is not among @auth/core's package exports; it is imported by
// file so that the chunks are cut by Auth.js' own code, not by a copy of it.
import { SessionStore } from "./node_modules/@auth/core/lib/utils/cookie.js";

const AUTH_CORE_VERSION = JSON.parse(
  readFileSync(new URL("./node_modules/@auth/core/package.json", import.meta.url), "utf8"),
).version;

// ---- pinned clock ---------------------------------------------------------
const RealDate = Date;
const mintedAt = process.env.MINT_TIME ? Number(process.env.MINT_TIME) : Math.floor(RealDate.now() / 1000);
if (!Number.isInteger(mintedAt) || mintedAt <= 0) throw new Error("MINT_TIME must be unix seconds");
class PinnedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(mintedAt * 1000);
    else super(...args);
  }
  static now() {
    return mintedAt * 1000;
  }
}
globalThis.Date = PinnedDate;

const quietLogger = { debug() {}, error() {}, warn() {} };
const SECURE = "__Secure-authjs.session-token";
const PLAIN = "authjs.session-token";
const DAY = 24 * 60 * 60; // AlgaPSA's default NEXTAUTH_SESSION_EXPIRES

function newSecret() {
  return randomBytes(32).toString("base64"); // what `openssl rand -base64 32` gives
}
function uuid() {
  return crypto.randomUUID();
}

// claims shapes a token as AlgaPSA's jwt callback writes it (packages/auth,
// nextAuthOptions.ts): identity, tenant, plan facts and the tracked session.
function claims(over = {}) {
  const id = uuid();
  const tenant = uuid();
  const base = {
    id,
    sub: id,
    email: "dana.tech@example.com",
    name: "Dana Tech",
    username: "dana.tech@example.com",
    tenant,
    tenantSlug: "acme-" + tenant.slice(0, 6),
    user_type: "internal",
    contactId: null,
    plan: "pro",
    product_code: "psa",
    addons: [],
    trial_end: null,
    subscription_status: "active",
    solo_pro_trial_end: null,
    effectiveTier: "pro",
    last_plan_check: mintedAt * 1000,
    session_id: uuid(),
    login_method: "credentials",
    last_session_extend: mintedAt * 1000,
  };
  const out = { ...base, ...over };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

// chunk cuts a cookie value exactly as Auth.js does when it sets the cookie.
function chunk(name, value) {
  const store = new SessionStore({ name, options: {} }, {}, quietLogger);
  const out = {};
  for (const c of store.chunk(value, {})) if (c.value) out[c.name] = c.value;
  return out;
}

async function mint(secret, salt, token, maxAge = DAY) {
  return encode({ token, secret, salt, maxAge });
}

// authjsVerdict asks Auth.js' own reader what it makes of the cookies, as the
// web app does on a request: parse the Cookie header, join chunks, decode.
async function authjsVerdict(secret, cookieName, cookies) {
  const header = Object.entries(cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  const payload = await getToken({
    req: { headers: { cookie: header } },
    secret,
    cookieName,
    secureCookie: cookieName.startsWith("__Secure-"),
    logger: quietLogger,
  });
  return payload;
}

function expectSession(c, extra = {}) {
  return {
    user_id: c.id ?? c.sub,
    tenant: c.tenant,
    user_type: c.user_type,
    email: c.email,
    name: c.name,
    session_id: c.session_id,
    ...extra,
  };
}

// derivedKey is the Auth.js key derivation, for the vectors that need `jose`
// directly (algorithms and headers Auth.js never writes).
function derivedKey(secret, salt, length) {
  return new Uint8Array(hkdfSync("sha256", secret, salt, `Auth.js Generated Encryption Key (${salt})`, length));
}
function thumbprint(key) {
  const json = JSON.stringify({ k: base64url.encode(key), kty: "oct" });
  const hash = key.byteLength === 64 ? "sha512" : "sha256";
  return base64url.encode(createHash(hash).update(json).digest());
}
async function joseMint(secret, salt, token, header, keyLength) {
  const key = derivedKey(secret, salt, keyLength);
  return new EncryptJWT(token)
    .setProtectedHeader(header)
    .setIssuedAt()
    .setExpirationTime(mintedAt + DAY)
    .setJti(uuid())
    .encrypt(key);
}

// flip changes one base64url character in the middle of segment i of a
// compact JWE (a middle character carries six data bits, never padding).
function flip(jwe, i) {
  const parts = jwe.split(".");
  const s = parts[i];
  const at = Math.floor(s.length / 2);
  const c = s[at] === "A" ? "B" : "A";
  parts[i] = s.slice(0, at) + c + s.slice(at + 1);
  return parts.join(".");
}

async function build() {
  const v = [];
  const add = async (name, secret, cookieName, cookies, expect) => {
    const payload = await authjsVerdict(secret, cookieName, cookies);
    v.push({
      name,
      secret,
      cookie_name: cookieName,
      minted_at: mintedAt,
      cookies,
      authjs_decode: payload ? "ok" : "refused",
      expect,
    });
  };
  const ok = (c, extra) => ({ session: expectSession(c, { expires_at: mintedAt + DAY, issued_at: mintedAt, ...extra }) });
  const refused = (reason) => ({ refusal: reason });

  // ---- accepted ----
  {
    const s = newSecret();
    const c = claims();
    await add("small session, secure cookie name", s, SECURE, { [SECURE]: await mint(s, SECURE, c) }, ok(c));
  }
  {
    const s = newSecret();
    const c = claims({ user_type: "client", contactId: uuid(), clientId: uuid(), name: "Casey Client", email: "casey@client.example" });
    await add("client user, plain cookie name", s, PLAIN, { [PLAIN]: await mint(s, PLAIN, c) }, ok(c));
  }
  let large; // a chunked session, reused by the chunk refusals below
  {
    const s = newSecret();
    // A session grown past one cookie: many add-ons (incompressible ids).
    const c = claims({ addons: Array.from({ length: 180 }, () => "addon-" + uuid()) });
    const cookies = chunk(SECURE, await mint(s, SECURE, c));
    if (Object.keys(cookies).length < 2) throw new Error("large session did not chunk");
    large = { s, c, cookies };
    await add("large session in chunks", s, SECURE, cookies, ok(c));
  }
  {
    const s = newSecret();
    const c = claims({ id: undefined });
    await add("no id claim: sub is the user id", s, SECURE, { [SECURE]: await mint(s, SECURE, c) }, ok(c));
  }
  {
    const s = newSecret();
    const c = claims();
    await add(
      "expired 10 s ago, inside Auth.js' 15 s leeway",
      s,
      SECURE,
      { [SECURE]: await mint(s, SECURE, c, -10) },
      ok(c, { expires_at: mintedAt - 10 }),
    );
  }
  {
    const s = newSecret();
    const c = claims();
    const jwe = await joseMint(s, SECURE, c, { alg: "dir", enc: "A256CBC-HS512" }, 64);
    await add("no kid in the header (Auth.js decode accepts it)", s, SECURE, { [SECURE]: jwe }, ok(c));
  }

  // ---- refused: keys ----
  {
    const c = claims();
    const jwe = await mint(newSecret(), SECURE, c);
    await add("wrong secret", newSecret(), SECURE, { [SECURE]: jwe }, refused("decrypt"));
  }
  {
    const s = newSecret();
    const jwe = await mint(s, PLAIN, claims());
    await add("minted under authjs.session-token, presented as __Secure-", s, SECURE, { [SECURE]: jwe }, refused("decrypt"));
  }
  {
    const s = newSecret();
    const c = claims();
    const jwe = await joseMint(s, SECURE, c, { alg: "dir", enc: "A256CBC-HS512", kid: "not-the-key-thumbprint" }, 64);
    await add("kid that is not the key's thumbprint", s, SECURE, { [SECURE]: jwe }, refused("decrypt"));
  }
  // ---- refused: tampering ----
  {
    const s = newSecret();
    const jwe = await mint(s, SECURE, claims());
    await add("tampered ciphertext", s, SECURE, { [SECURE]: flip(jwe, 3) }, refused("decrypt"));
    await add("tampered tag", s, SECURE, { [SECURE]: flip(jwe, 4) }, refused("decrypt"));
    await add("tampered iv", s, SECURE, { [SECURE]: flip(jwe, 2) }, refused("decrypt"));
    // The same header without its kid still names dir/A256CBC-HS512, but it
    // is the authenticated data, so the tag no longer matches.
    const parts = jwe.split(".");
    parts[0] = base64url.encode(JSON.stringify({ alg: "dir", enc: "A256CBC-HS512" }));
    await add("tampered header (kid removed)", s, SECURE, { [SECURE]: parts.join(".") }, refused("decrypt"));
  }
  // ---- refused: time ----
  {
    const s = newSecret();
    await add("expired 15 s ago (at Auth.js' leeway)", s, SECURE, { [SECURE]: await mint(s, SECURE, claims(), -15) }, refused("expired"));
    await add("expired an hour ago", s, SECURE, { [SECURE]: await mint(s, SECURE, claims(), -3600) }, refused("expired"));
    await add(
      "nbf a minute ahead",
      s,
      SECURE,
      { [SECURE]: await mint(s, SECURE, claims({ nbf: mintedAt + 60 })) },
      refused("not_yet_valid"),
    );
  }
  // ---- refused: claims AlgaPSA requires ----
  {
    const s = newSecret();
    const m = async (over) => ({ [SECURE]: await mint(s, SECURE, claims(over)) });
    await add("missing session_id", s, SECURE, await m({ session_id: undefined }), refused("claims"));
    await add("missing tenant", s, SECURE, await m({ tenant: undefined }), refused("claims"));
    await add("missing id and sub", s, SECURE, await m({ id: undefined, sub: undefined }), refused("claims"));
    await add("empty session_id", s, SECURE, await m({ session_id: "" }), refused("claims"));
    await add("user_type neither internal nor client", s, SECURE, await m({ user_type: "admin" }), refused("claims"));
    await add("tenant that is not a string", s, SECURE, await m({ tenant: 42 }), refused("claims"));
  }
  // ---- refused: chunks and size ----
  {
    const { s, cookies } = large;
    const names = Object.keys(cookies).sort();
    const missing = { ...cookies };
    delete missing[names[1]];
    await add("chunk .1 missing", s, SECURE, missing, refused("chunks"));
    const swapped = { ...cookies, [names[0]]: cookies[names[1]], [names[1]]: cookies[names[0]] };
    await add("chunks .0 and .1 swapped", s, SECURE, swapped, refused("malformed"));
    const noFirst = { ...cookies };
    delete noFirst[names[0]];
    await add("chunk .0 missing", s, SECURE, noFirst, refused("chunks"));
    const both = { ...cookies, [SECURE]: await mint(s, SECURE, claims()) };
    await add("whole cookie and chunks side by side", s, SECURE, both, refused("chunks"));
  }
  {
    const s = newSecret();
    const c = claims({ addons: Array.from({ length: 360 }, () => "addon-" + uuid()) });
    const cookies = chunk(SECURE, await mint(s, SECURE, c));
    await add("oversized session (over 16 KiB)", s, SECURE, cookies, refused("too_large"));
  }
  // ---- refused: not an Auth.js JWE ----
  {
    const s = newSecret();
    await add("malformed value", s, SECURE, { [SECURE]: "not-a-session-token" }, refused("malformed"));
    const jws = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    await add("a JWS, not a JWE", s, SECURE, { [SECURE]: jws }, refused("malformed"));
    const c = claims();
    const gcmKey = derivedKey(s, SECURE, 32);
    await add(
      "enc A256GCM (Auth.js decode accepts it; its encode never writes it)",
      s,
      SECURE,
      { [SECURE]: await joseMint(s, SECURE, c, { alg: "dir", enc: "A256GCM", kid: thumbprint(gcmKey) }, 32) },
      refused("header"),
    );
    await add(
      "enc A128CBC-HS256",
      s,
      SECURE,
      { [SECURE]: await joseMint(s, SECURE, c, { alg: "dir", enc: "A128CBC-HS256" }, 32) },
      refused("header"),
    );
    await add(
      "alg A256KW",
      s,
      SECURE,
      { [SECURE]: await joseMint(s, SECURE, c, { alg: "A256KW", enc: "A256CBC-HS512" }, 32) },
      refused("header"),
    );
    await add(
      "zip DEF header (Auth.js decode accepts it; its encode never writes it)",
      s,
      SECURE,
      { [SECURE]: await joseMint(s, SECURE, c, { alg: "dir", enc: "A256CBC-HS512", zip: "DEF" }, 64) },
      refused("header"),
    );
  }
  // ---- nothing there ----
  await add("no session cookie (other cookies only)", newSecret(), SECURE, { "authjs.csrf-token": "abc", theme: "dark" }, refused("no_cookie"));
  return v;
}

async function verify(path) {
  const input = JSON.parse(readFileSync(path, "utf8"));
  const out = [];
  for (const c of input) {
    out.push({ name: c.name, payload: await authjsVerdict(c.secret, c.cookie_name, c.cookies) });
  }
  process.stdout.write(JSON.stringify(out, null, 2) + "\n");
}

if (process.argv[2] === "verify") {
  await verify(process.argv[3]);
} else {
  const doc = {
    generator: "testdata/authjs/mint.mjs",
    auth_core_version: AUTH_CORE_VERSION,
    minted_at: mintedAt,
    note: "test-only secrets; regenerate with `npm ci && node mint.mjs vectors.json` in testdata/authjs",
    vectors: await build(),
  };
  const text = JSON.stringify(doc, null, 2) + "\n";
  if (process.argv[2]) writeFileSync(process.argv[2], text);
  else process.stdout.write(text);
}
