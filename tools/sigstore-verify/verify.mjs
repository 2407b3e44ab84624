// An implementation of Sigstore and cosign verification independent of Lamina's C#: Sigstore bundles are checked by
// sigstore-js (@sigstore/bundle reads them, @sigstore/verify verifies them with a key-based trust material, no
// transparency log, CT log or timestamp required), and cosign's registry format (simple-signing signatures, DSSE
// attestations) by node's crypto over the bytes cosign signs: the payload, and DSSE's PAE.
//
//   node verify.mjs bundle --key PUB --bundle FILE [--statement FILE]
//   node verify.mjs dsse --key PUB --envelope FILE [--subject sha256:HEX]
//   node verify.mjs simple-signing --key PUB --payload FILE --signature BASE64 [--digest sha256:HEX]
//   node verify.mjs image --key PUB --layout DIR (--tag TAG | --digest sha256:HEX)
//
// Prints one JSON line; exits 0 when everything verifies, 1 when something does not (the line says what), 2 on usage.
import { readFileSync } from 'node:fs';
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity } from '@sigstore/verify';

const IN_TOTO = 'application/vnd.in-toto+json';
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
const DSSE = 'application/vnd.dsse.envelope.v1+json';
const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

class Failure extends Error {}

function options(args) {
  const result = {};
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith('--') || i + 1 >= args.length) throw new Failure(`usage: bad option '${args[i]}'`);
    result[args[i].slice(2)] = args[i + 1];
  }
  return result;
}

function need(opts, name) {
  if (opts[name] === undefined) throw new Failure(`usage: --${name} is required`);
  return opts[name];
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

function keyIdOf(key) {
  return sha256(key.export({ type: 'spki', format: 'der' }));
}

// DSSE's pre-authentication encoding, written from the DSSE protocol document.
function pae(type, body) {
  const typeBytes = Buffer.from(type, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${typeBytes.length} `, 'utf8'), typeBytes,
    Buffer.from(` ${body.length} `, 'utf8'), body,
  ]);
}

function verifyDer(key, data, signature) {
  return cryptoVerify('sha256', data, { key, dsaEncoding: 'der' }, signature);
}

function verifyBundle(key, opts) {
  const json = JSON.parse(readFileSync(need(opts, 'bundle'), 'utf8'));
  const bundle = bundleFromJSON(json);
  const hint = bundle.verificationMaterial.content.$case === 'publicKey' ? bundle.verificationMaterial.content.publicKey.hint : undefined;
  const trust = {
    certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [],
    publicKey: (h) => {
      if (h !== keyIdOf(key)) throw new Failure(`the bundle names key ${h}, the key given is ${keyIdOf(key)}`);
      return { publicKey: key, validFor: () => true };
    },
  };
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle));
  const envelope = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope : undefined;
  if (!envelope) throw new Failure('the bundle holds no DSSE envelope');
  if (envelope.payloadType !== IN_TOTO) throw new Failure(`the payload type is ${envelope.payloadType}`);
  if (opts.statement !== undefined) {
    const expected = readFileSync(opts.statement);
    if (!expected.equals(Buffer.from(envelope.payload))) {
      throw new Failure(`the signed statement (sha256 ${sha256(envelope.payload)}) is not ${opts.statement} (sha256 ${sha256(expected)})`);
    }
  }
  return { verified: 'bundle', key_id: hint, statement_sha256: sha256(envelope.payload) };
}

function checkEnvelope(key, envelope, subject) {
  const body = Buffer.from(envelope.payload, 'base64');
  const signed = pae(envelope.payloadType, body);
  if (!(envelope.signatures ?? []).some((s) => verifyDer(key, signed, Buffer.from(s.sig, 'base64')))) {
    throw new Failure(`the DSSE signature does not verify with key ${keyIdOf(key)}`);
  }
  if (envelope.payloadType !== IN_TOTO) throw new Failure(`the payload type is ${envelope.payloadType}`);
  const statement = JSON.parse(body.toString('utf8'));
  if (subject !== undefined) {
    const hex = subject.replace(/^sha256:/, '');
    if (!(statement.subject ?? []).some((s) => s.digest?.sha256 === hex)) {
      throw new Failure(`the statement's subjects do not include ${subject}`);
    }
  }
  return { predicate_type: statement.predicateType, subjects: (statement.subject ?? []).map((s) => s.digest?.sha256) };
}

function checkSimpleSigning(key, payload, signature, digest) {
  if (!verifyDer(key, payload, signature)) throw new Failure(`the simple-signing signature does not verify with key ${keyIdOf(key)}`);
  const claims = JSON.parse(payload.toString('utf8')).critical;
  if (claims?.type !== 'cosign container image signature') throw new Failure(`the payload's type is ${claims?.type}`);
  const signedDigest = claims.image?.['docker-manifest-digest'];
  if (digest !== undefined && signedDigest !== digest) throw new Failure(`the payload signs ${signedDigest}, not ${digest}`);
  return { docker_reference: claims.identity?.['docker-reference'], digest: signedDigest };
}

// cosign's lookup in an OCI layout: the image's digest names the tags sha256-HEX.sig and sha256-HEX.att.
function verifyImage(key, opts) {
  const layout = need(opts, 'layout');
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const byTag = (tag) => index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag).at(-1);
  const blob = (digest) => {
    const bytes = readFileSync(join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
    if (`sha256:${sha256(bytes)}` !== digest) throw new Failure(`blob ${digest} does not match its content (sha256:${sha256(bytes)})`);
    return bytes;
  };
  let digest = opts.digest;
  if (digest === undefined) {
    const entry = byTag(need(opts, 'tag'));
    if (!entry) throw new Failure(`no tag ${opts.tag} in ${layout}`);
    digest = entry.digest;
  }
  const manifest = JSON.parse(blob(digest).toString('utf8'));
  for (const layer of [manifest.config, ...manifest.layers]) blob(layer.digest);
  const hex = digest.replace(/^sha256:/, '');
  const sig = byTag(`sha256-${hex}.sig`);
  if (!sig) throw new Failure(`no signature: no tag sha256-${hex}.sig`);
  const sigLayers = JSON.parse(blob(sig.digest).toString('utf8')).layers.filter((l) => l.mediaType === SIMPLE_SIGNING);
  const signatures = sigLayers.map((l) => {
    try {
      return checkSimpleSigning(key, blob(l.digest), Buffer.from(l.annotations?.[SIGNATURE_ANNOTATION] ?? '', 'base64'), digest);
    } catch (e) {
      if (e instanceof Failure) return { error: e.message };
      throw e;
    }
  });
  const signature = signatures.find((s) => !s.error);
  if (!signature) throw new Failure(`signature: ${signatures.map((s) => s.error).join('; ') || 'no simple-signing layer'}`);
  const att = byTag(`sha256-${hex}.att`);
  if (!att) throw new Failure(`no attestation: no tag sha256-${hex}.att`);
  const attLayers = JSON.parse(blob(att.digest).toString('utf8')).layers.filter((l) => l.mediaType === DSSE);
  const attestations = attLayers.map((l) => {
    try {
      return checkEnvelope(key, JSON.parse(blob(l.digest).toString('utf8')), digest);
    } catch (e) {
      if (e instanceof Failure) return { error: e.message };
      throw e;
    }
  });
  const attestation = attestations.find((a) => !a.error);
  if (!attestation) throw new Failure(`attestation: ${attestations.map((a) => a.error).join('; ') || 'no DSSE layer'}`);
  return { verified: 'image', digest, signature, attestation };
}

function main(argv) {
  const [command, ...rest] = argv;
  if (!['bundle', 'dsse', 'simple-signing', 'image'].includes(command)) {
    throw new Failure(`usage: unknown command '${command}' (bundle, dsse, simple-signing, image)`);
  }
  const opts = options(rest);
  const key = createPublicKey(readFileSync(need(opts, 'key')));
  switch (command) {
    case 'bundle': return verifyBundle(key, opts);
    case 'dsse': return { verified: 'dsse', ...checkEnvelope(key, JSON.parse(readFileSync(need(opts, 'envelope'), 'utf8')), opts.subject) };
    case 'simple-signing':
      return { verified: 'simple-signing', ...checkSimpleSigning(key, readFileSync(need(opts, 'payload')), Buffer.from(need(opts, 'signature'), 'base64'), opts.digest) };
    case 'image': return verifyImage(key, opts);
    default: throw new Failure(`usage: unknown command '${command}' (bundle, dsse, simple-signing, image)`);
  }
}

try {
  console.log(JSON.stringify({ ok: true, ...main(process.argv.slice(2)) }));
} catch (e) {
  const usage = e instanceof Failure && e.message.startsWith('usage:');
  console.log(JSON.stringify({ ok: false, error: `${e.name === 'Error' || e instanceof Failure ? '' : `${e.name}: `}${e.code ? `${e.code}: ` : ''}${e.message}` }));
  process.exit(usage ? 2 : 1);
}
