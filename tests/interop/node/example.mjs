// Calls a running tconv server from Node.js and checks it against a golden Keras result.
// Usage: node example.mjs HOST:PORT PROTO_DIR CASES.jsonl NODE_MODULES_DIR
// Creates the layer of a golden case (channels_last, with bias) with its weights, runs
// ModelInfer with raw FP32 tensors (Float32Array), checks every element within the conformance
// tolerance |got - want| <= 1e-4 + 1e-4 * |want|, the weight checksum, an exact
// INVALID_ARGUMENT for a wrongly sized tensor and NOT_FOUND after deleting the layer.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { Client, inferRequest, weightChecksum } from './tconv_client.mjs';

const [target, protoDir, casesPath, modulesDir] = process.argv.slice(2);
const require = createRequire(path.resolve(modulesDir, 'index.js'));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function pickCases() {
  const cases = fs.readFileSync(casesPath, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const format = (c) => (c.config.data_format ?? 'channels_last').toLowerCase();
  return [
    cases.find((c) => format(c) === 'channels_last' && c.config.use_bias !== false),
    cases.find((c) => format(c) === 'channels_first'),
  ];
}

async function expectCode(code, promise) {
  try {
    await promise;
  } catch (e) {
    if (e.code !== code) throw new Error(`expected status ${code}, got ${e.code}: ${e.details}`);
    return e.details;
  }
  throw new Error(`expected status ${code}, the call succeeded`);
}

async function runCase(client, c) {
  const cfg = c.config;
  const [kh, kw] = Array.isArray(cfg.kernel_size) ? cfg.kernel_size : [cfg.kernel_size, cfg.kernel_size];
  const channelsFirst = (cfg.data_format ?? 'channels_last').toLowerCase() === 'channels_first';
  const inChannels = c.input_shape[channelsFirst ? 1 : 3];
  const kernel = Float32Array.from(c.kernel);
  const bias = c.bias ? Float32Array.from(c.bias) : undefined;
  const name = `node_${c.name}`;

  const layer = await client.createLayer(name, cfg, {
    kernel, kernelShape: [kh, kw, cfg.filters, inChannels], bias, replace: true });
  if (BigInt(layer.weight_checksum) !== weightChecksum(kernel, bias)) {
    throw new Error(`${name}: weight checksum ${layer.weight_checksum} != ${weightChecksum(kernel, bias)}`);
  }
  const input = Float32Array.from(c.input);
  const got = await client.infer(name, input, c.input_shape);
  if (JSON.stringify(got.shape) !== JSON.stringify(c.output_shape)) {
    throw new Error(`${name}: output shape ${got.shape}, expected ${c.output_shape}`);
  }
  let maxErr = 0;
  c.output.forEach((w, i) => {
    const want = Math.fround(w);
    const err = Math.abs(got.values[i] - want);
    if (!Number.isFinite(got.values[i]) || err > 1e-4 + 1e-4 * Math.abs(want)) {
      throw new Error(`${name}: element ${i} got ${got.values[i]} want ${want}`);
    }
    maxErr = Math.max(maxErr, err);
  });
  console.log(`ok  ${name}: ${got.values.length} elements, max |err| ${maxErr.toExponential(2)}`);

  const short = inferRequest(name, input.subarray(1), c.input_shape);  // one float missing
  const message = await expectCode(grpc.status.INVALID_ARGUMENT,
    client.call(client.inference, 'ModelInfer', short));
  console.log(`ok  wrong byte size -> INVALID_ARGUMENT (${message})`);
  await client.deleteLayer(name);
  await expectCode(grpc.status.NOT_FOUND, client.infer(name, input, c.input_shape));
}

const client = await Client.connect(target, { protoDir, grpc, protoLoader });
try {
  if (!(await client.serverReady())) throw new Error(`${target}: server is not ready`);
  for (const c of pickCases()) await runCase(client, c);
  console.log('node client: all checks passed');
} finally {
  client.close();
}
