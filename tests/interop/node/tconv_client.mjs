// A small Node.js client for tconv through the standard protocols: tconv.v1.LayerService for
// layers, the Open Inference Protocol v2 (inference.GRPCInferenceService) with raw
// little-endian FP32 tensors for inference. Needs npm @grpc/grpc-js and @grpc/proto-loader;
// the .proto files are loaded at run time from tconv's proto/ directory.
//
//   const client = await Client.connect('127.0.0.1:8001', { protoDir, grpc, protoLoader });
//   await client.createLayer('g1', config, { kernel, kernelShape, bias });
//   const { shape, values } = await client.infer('g1', float32Array, [1, 4, 4, 3]);
//
// Errors reject with the grpc-js error: `.code` is the gRPC status (grpc.status.NOT_FOUND, ...).
import path from 'node:path';

const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export class Client {
  // grpc / protoLoader are the loaded npm modules (passed in so callers choose where they live).
  static async connect(target, { protoDir, grpc, protoLoader, timeoutMs = 30000 }) {
    const definition = await protoLoader.load(
      [path.join(protoDir, 'tconv/v1/layer_service.proto'), path.join(protoDir, 'inference/grpc_service.proto')],
      { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
        includeDirs: [protoDir, '/usr/include'] });
    const api = grpc.loadPackageDefinition(definition);
    // round_robin: with a dns:/// target (a Kubernetes headless Service) calls spread over
    // every resolved replica instead of pinning one connection.
    const options = {
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    };
    const credentials = grpc.credentials.createInsecure();
    return new Client(
      new api.tconv.v1.LayerService(target, credentials, options),
      new api.inference.GRPCInferenceService(target, credentials, options),
      timeoutMs);
  }

  constructor(layers, inference, timeoutMs) {
    this.layers = layers;
    this.inference = inference;
    this.timeoutMs = timeoutMs;
  }

  close() {
    this.layers.close();
    this.inference.close();
  }

  call(stub, method, request) {
    return new Promise((resolve, reject) => {
      stub[method](request, { deadline: Date.now() + this.timeoutMs },
                   (err, response) => (err ? reject(err) : resolve(response)));
    });
  }

  // Creates (or with replace, replaces) a layer from a Keras config object. kernel/bias are
  // Float32Arrays, kernel in Keras layout (kh, kw, filters, in_channels) = kernelShape.
  async createLayer(name, config, { kernel, kernelShape, bias, inChannels = 0, seed = 0, replace = false } = {}) {
    const request = { name, config_json: JSON.stringify(config), in_channels: inChannels, seed, replace };
    if (kernel) {
      request.kernel = float32ToBuffer(kernel);
      request.kernel_shape = kernelShape;
      if (bias) request.bias = float32ToBuffer(bias);
    }
    return (await this.call(this.layers, 'CreateLayer', request)).layer;
  }

  async getLayer(name) {
    return (await this.call(this.layers, 'GetLayer', { name })).layer;
  }

  async deleteLayer(name) {
    await this.call(this.layers, 'DeleteLayer', { name });
  }

  async serverReady() {
    return (await this.call(this.inference, 'ServerReady', {})).ready;
  }

  // Runs the layer on `values` (Float32Array of `shape`, the layer's data_format, batch first).
  async infer(name, values, shape) {
    const response = await this.call(this.inference, 'ModelInfer', inferRequest(name, values, shape));
    const output = response.outputs[0];
    if (output.datatype !== 'FP32') throw new Error(`output datatype ${output.datatype}, expected FP32`);
    return { shape: output.shape.map(Number), values: bufferToFloat32(response.raw_output_contents[0]) };
  }
}

export function inferRequest(name, values, shape) {
  return {
    model_name: name,
    inputs: [{ name: 'input', datatype: 'FP32', shape }],
    raw_input_contents: [float32ToBuffer(values)],
  };
}

// Explicitly little-endian, whatever the host's byte order.
export function float32ToBuffer(values) {
  const buffer = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => buffer.writeFloatLE(v, i * 4));
  return buffer;
}

export function bufferToFloat32(buffer) {
  const values = new Float32Array(buffer.length / 4);
  for (let i = 0; i < values.length; i++) values[i] = buffer.readFloatLE(i * 4);
  return values;
}

// FNV-1a 64 over the kernel's then the bias' float32 little-endian bytes
// (tconv.v1.Layer.weight_checksum).
export function weightChecksum(kernel, bias) {
  let h = 0xcbf29ce484222325n;
  for (const array of [kernel, bias]) {
    if (!array) continue;
    for (const byte of float32ToBuffer(array)) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}
