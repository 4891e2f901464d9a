// CosmJS against a running buildchain localnet: what a wallet or dApp does with the standard
// Cosmos JS clients. Started by tests/e2e (TestClientsOnLocalnet), which passes the endpoints,
// a test key and fresh CIDs in the environment; see README.md. Exits non-zero on the first
// failure, printing what failed.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import protobuf from "protobufjs";
import { DirectSecp256k1Wallet, Registry, decodeTxRaw } from "@cosmjs/proto-signing";
import { GasPrice, SigningStargateClient, StargateClient, defaultRegistryTypes } from "@cosmjs/stargate";
import { connectComet } from "@cosmjs/tendermint-rpc";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
};
const RPC = env("BC_RPC");
const REST = env("BC_REST");
const CHAIN_ID = env("BC_CHAIN_ID");
const KEY_HEX = env("BC_KEY_HEX");
const RECIPIENT = env("BC_RECIPIENT");
const DRV_CID = env("BC_DERIVATION_CID");
const OUT_CID = env("BC_OUTPUT_CID");
const DEPOSIT = env("BC_DEPOSIT"); // e.g. 10000000ubct
const CLAIM_SALT = Buffer.from(env("BC_CLAIM_SALT"), "hex"); // the blind claim's salt
const PROTO_PATHS = env("BC_PROTO_PATHS").split(path.delimiter); // the repo's proto/ first, then the SDK's, gogoproto's, cosmos_proto's

const DENOM = "ubct";
const step = (what) => console.log(`--- ${what}`);

// claimCommitment is x/claims/types.ClaimCommitment (x/claims/types/commit.go): SHA-256 of the
// domain tag, publisher, derivation CID, output CID and salt, each prefixed by its length as a
// big-endian uint32. A blind claim carries it instead of the output (x/claims/README.md).
function claimCommitment(publisher, derivationCid, outputCid, salt) {
  const h = crypto.createHash("sha256");
  for (const field of ["buildchain/claim-output/v1", publisher, derivationCid, outputCid, salt]) {
    const bytes = typeof field === "string" ? Buffer.from(field, "utf8") : field;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len);
    h.update(bytes);
  }
  return h.digest();
}

// The repo's protos, loaded at test time with protobufjs; imports resolve along
// BC_PROTO_PATHS (the Go module cache copies of the SDK, gogoproto and cosmos-proto files).
function loadProtos(files) {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target) && fs.existsSync(target)) return target;
    for (const dir of PROTO_PATHS) {
      const p = path.join(dir, target);
      if (fs.existsSync(p)) return p;
    }
    throw new Error(`proto import ${target} not found in ${PROTO_PATHS.join(", ")}`);
  };
  root.loadSync(files, { keepCase: false });
  root.resolveAll();
  return root;
}

// CosmJS's Registry calls create() then encode(): fromObject converts nested plain objects.
const asGenerated = (T) => ({
  create: (v) => T.fromObject(v ?? {}),
  encode: (m, w) => T.encode(m, w),
  decode: (b, l) => T.decode(b, l),
});

async function restJSON(p) {
  const res = await fetch(REST + p);
  const body = await res.text();
  assert.equal(res.status, 200, `GET ${p}: ${res.status} ${body}`);
  return JSON.parse(body);
}

async function main() {
  const modules = ["bct", "claims", "market", "validators"];
  const protos = loadProtos([
    ...modules.map((m) => `buildchain/${m}/v1/tx.proto`),
    "buildchain/claims/v1/events.proto",
  ]);
  const MsgSubmitClaim = protos.lookupType("buildchain.claims.v1.MsgSubmitClaim");
  // Every Msg of our modules, as an explorer would register them: any tx in a block (a builder's
  // registration or report, a prediction) must decode, not only the ones this test sends.
  const registry = new Registry(defaultRegistryTypes);
  for (const m of modules) {
    for (const T of Object.values(protos.lookup(`buildchain.${m}.v1`).nested)) {
      if (T instanceof protobuf.Type && T.name.startsWith("Msg") && !T.name.endsWith("Response")) {
        registry.register("/" + T.fullName.slice(1), asGenerated(T));
      }
    }
  }

  step("chain id and heights");
  const client = await StargateClient.connect(RPC);
  assert.equal(await client.getChainId(), CHAIN_ID);
  const height = await client.getHeight();
  assert.ok(height > 1, `height ${height}`);
  const latest = await client.getBlock();
  assert.ok(latest.header.height >= height, `latest block ${latest.header.height} < ${height}`);
  assert.equal(latest.header.chainId, CHAIN_ID);

  step("every tx of the last blocks decodes, the beacon is a MsgBeacon with code 0");
  const comet = await connectComet(RPC);
  const from = Math.max(1, height - 20);
  let beacons = 0;
  for (let h = from; h <= height; h++) {
    const block = await client.getBlock(h);
    const results = await comet.blockResults(h);
    assert.equal(results.results.length, block.txs.length, `height ${h}: results`);
    block.txs.forEach((raw, i) => {
      const tx = decodeTxRaw(raw);
      assert.ok(tx.body.messages.length > 0, `height ${h} tx ${i}: no messages`);
      for (const any of tx.body.messages) {
        const msg = registry.decode(any); // throws on an unregistered type or bad bytes
        if (any.typeUrl === "/buildchain.validators.v1.MsgBeacon") {
          assert.equal(i, 0, `height ${h}: beacon at position ${i}`);
          assert.equal(msg.publicKey.length, 32);
          assert.equal(msg.proof.length, 80);
          assert.equal(tx.signatures.length, 0);
          beacons++;
        }
      }
      assert.equal(results.results[i].code, 0, `height ${h} tx ${i} failed: ${results.results[i].log}`);
    });
  }
  assert.ok(beacons > 0, `no beacon in blocks ${from}..${height}`);

  const wallet = await DirectSecp256k1Wallet.fromKey(Uint8Array.from(Buffer.from(KEY_HEX, "hex")), "bc");
  const [account] = await wallet.getAccounts();
  const signer = await SigningStargateClient.connectWithSigner(RPC, wallet, {
    registry,
    gasPrice: GasPrice.fromString(`0${DENOM}`),
  });

  step("bank transfer signed in JS");
  const before = BigInt((await client.getBalance(RECIPIENT, DENOM)).amount);
  const sent = await signer.sendTokens(account.address, RECIPIENT, [{ denom: DENOM, amount: "1234" }], "auto", "cosmjs");
  assert.equal(sent.code, 0, `send: ${sent.rawLog}`);
  const after = BigInt((await client.getBalance(RECIPIENT, DENOM)).amount);
  assert.equal(after - before, 1234n);

  step("search txs by height");
  const atHeight = await client.searchTx(`tx.height=${sent.height}`);
  assert.ok(atHeight.some((t) => t.hash === sent.transactionHash), `send ${sent.transactionHash} not found at height ${sent.height}`);
  for (const t of atHeight) assert.equal(t.code, 0);

  step("blind MsgSubmitClaim (output commitment computed in JS) encoded in JS from the repo's proto files");
  const m = DEPOSIT.match(/^(\d+)([a-z]+)$/);
  assert.ok(m, `deposit ${DEPOSIT}`);
  const commitment = claimCommitment(account.address, DRV_CID, OUT_CID, CLAIM_SALT);
  console.log(`commitment ${commitment.toString("hex")}`);
  const claimMsg = {
    typeUrl: "/buildchain.claims.v1.MsgSubmitClaim",
    value: { publisher: account.address, derivationCid: DRV_CID, outputCommitment: commitment, system: "x86_64-linux", deposit: { denom: m[2], amount: m[1] } },
  };
  const claimed = await signer.signAndBroadcast(account.address, [claimMsg], "auto", "cosmjs claim");
  assert.equal(claimed.code, 0, `submit claim: ${claimed.rawLog}`);
  const submitted = claimed.events.find((e) => e.type === "buildchain.claims.v1.EventClaimSubmitted");
  assert.ok(submitted, `no EventClaimSubmitted in ${JSON.stringify(claimed.events)}`);
  const claimId = JSON.parse(submitted.attributes.find((a) => a.key === "claim_id").value);

  step("search txs by a claims event");
  const byEvent = await client.searchTx(`buildchain.claims.v1.EventClaimSubmitted.derivation_cid='"${DRV_CID}"'`);
  assert.equal(byEvent.length, 1, `txs with EventClaimSubmitted for ${DRV_CID}: ${byEvent.length}`);
  assert.equal(byEvent[0].hash, claimed.transactionHash);
  const found = decodeTxRaw(byEvent[0].tx);
  const decoded = registry.decode(found.body.messages[0]);
  assert.equal(decoded.derivationCid, DRV_CID);
  assert.equal(decoded.publisher, account.address);

  step("the chain has the claim");
  const claim = await restJSON(`/buildchain/claims/v1/claims/${claimId}`);
  assert.equal(claim.claim.derivation_cid, DRV_CID);
  assert.equal(claim.claim.output_cid, "", "a blind claim does not announce its output");
  assert.equal(claim.claim.output_commitment, commitment.toString("base64"));
  assert.equal(claim.claim.publisher, account.address);

  comet.disconnect();
  client.disconnect();
  signer.disconnect();
  console.log(`ok: chain ${CHAIN_ID}, blocks ${from}..${height} (${beacons} beacons), send ${sent.transactionHash}, claim ${claimId}`);
}

main().catch((err) => {
  console.error("FAIL:", err);
  process.exit(1);
});
