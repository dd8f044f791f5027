package io.github.tconv.client;

import com.google.protobuf.ByteString;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import inference.GRPCInferenceServiceGrpc;
import inference.GrpcService.ModelInferRequest;
import inference.GrpcService.ModelInferResponse;
import inference.GrpcService.ServerReadyRequest;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import tconv.v1.LayerServiceGrpc;
import tconv.v1.LayerServiceOuterClass.CreateLayerRequest;
import tconv.v1.LayerServiceOuterClass.DeleteLayerRequest;
import tconv.v1.LayerServiceOuterClass.GetLayerRequest;
import tconv.v1.LayerServiceOuterClass.Layer;
import tconv.v1.LayerServiceOuterClass.ListLayersRequest;

/**
 * A thin client of a tconv server: the control plane (tconv.v1.LayerService), inference through
 * the Open Inference Protocol (inference.GRPCInferenceService, model name = layer name) and
 * grpc.health.v1.
 *
 * <pre>{@code
 * try (TconvClient c = TconvClient.connect("127.0.0.1:8001", TconvClient.Options.plaintext())) {
 *   c.createLayer(new TconvClient.LayerSpec("up", configJson, kernel, kernelShape, bias, false));
 *   TconvClient.Tensor out = c.infer("up", input, new long[] {1, 5, 5, 4});
 * }
 * }</pre>
 *
 * <p>Errors are grpc-java's {@link io.grpc.StatusRuntimeException}, unchanged: {@code
 * e.getStatus().getCode()} is the server's code (NOT_FOUND for an unknown layer,
 * INVALID_ARGUMENT for a bad shape, ...). Every call has the deadline {@link Options#timeout}.
 * Thread-safe; close it when done.
 */
public final class TconvClient implements AutoCloseable {
  /**
   * How to connect. {@code caCertificate} null = plaintext, else TLS trusting that PEM file;
   * {@code token} null/empty = none, else sent as "authorization: Bearer TOKEN" (what
   * tconv-server's --auth_token_file expects); {@code timeout} is each call's deadline.
   */
  public record Options(Path caCertificate, String token, Duration timeout) {
    public static Options plaintext() {
      return new Options(null, null, Duration.ofSeconds(30));
    }
  }

  /**
   * What createLayer sends (see proto/tconv/v1/layer_service.proto): Keras config JSON, the
   * kernel in Keras layout (kh, kw, filters, in_channels) row-major, the bias (filters) or null
   * when use_bias is false, and whether to replace a layer of that name.
   */
  public record LayerSpec(
      String name,
      String configJson,
      float[] kernel,
      long[] kernelShape,
      float[] bias,
      boolean replace) {}

  /** A dense float32 tensor, row-major. */
  public record Tensor(long[] shape, float[] values) {
    @Override
    public String toString() {
      return "Tensor" + Arrays.toString(shape) + "(" + values.length + " values)";
    }
  }

  // Largest message either way: gRPC's 4 MiB default is below one 256x256x3 batch of 8; the
  // server enforces its own limit.
  private static final int MAX_MESSAGE_BYTES = 1 << 30;

  private final ManagedChannel channel;
  private final Duration timeout;
  private final LayerServiceGrpc.LayerServiceBlockingStub layers;
  private final GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub inference;
  private final HealthGrpc.HealthBlockingStub health;

  private TconvClient(ManagedChannel channel, Options options) {
    this.channel = channel;
    this.timeout = options.timeout() != null ? options.timeout() : Duration.ofSeconds(30);
    this.layers = withToken(LayerServiceGrpc.newBlockingStub(channel), options.token());
    this.inference = withToken(GRPCInferenceServiceGrpc.newBlockingStub(channel), options.token());
    this.health = withToken(HealthGrpc.newBlockingStub(channel), options.token());
  }

  /**
   * A client of {@code target} ("host:port" or any gRPC target URI). Does not connect: the first
   * call does, and fails with UNAVAILABLE when no server answers.
   */
  public static TconvClient connect(String target, Options options) throws IOException {
    ChannelCredentials credentials =
        options.caCertificate() == null
            ? InsecureChannelCredentials.create()
            : TlsChannelCredentials.newBuilder()
                .trustManager(options.caCertificate().toFile())
                .build();
    ManagedChannel channel =
        Grpc.newChannelBuilder(target, credentials)
            .maxInboundMessageSize(MAX_MESSAGE_BYTES)
            .build();
    return new TconvClient(channel, options);
  }

  // The token travels as call metadata (an interceptor, not CallCredentials, so it is sent on a
  // plaintext loopback channel too, as the C++ client does).
  private static <S extends AbstractStub<S>> S withToken(S stub, String token) {
    if (token == null || token.isEmpty()) return stub;
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private <S extends AbstractStub<S>> S call(S stub) {
    return stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS)
        .withMaxOutboundMessageSize(MAX_MESSAGE_BYTES);
  }

  /** Validates, stores and serves a layer; returns it as the server describes it. */
  public Layer createLayer(LayerSpec spec) {
    CreateLayerRequest.Builder request =
        CreateLayerRequest.newBuilder()
            .setName(spec.name())
            .setConfigJson(spec.configJson())
            .setReplace(spec.replace());
    if (spec.kernel() != null) {
      request.setKernel(floatBytes(spec.kernel()));
      for (long d : spec.kernelShape()) request.addKernelShape(d);
    }
    if (spec.bias() != null) request.setBias(floatBytes(spec.bias()));
    return call(layers).createLayer(request.build()).getLayer();
  }

  /** A layer's description; NOT_FOUND when unknown. */
  public Layer getLayer(String name) {
    return call(layers).getLayer(GetLayerRequest.newBuilder().setName(name).build()).getLayer();
  }

  /** Every served layer, sorted by name. */
  public List<Layer> listLayers() {
    return call(layers).listLayers(ListLayersRequest.getDefaultInstance()).getLayersList();
  }

  /** Stops serving a layer and removes it from the repository; NOT_FOUND when unknown. */
  public void deleteLayer(String name) {
    call(layers).deleteLayer(DeleteLayerRequest.newBuilder().setName(name).build());
  }

  /**
   * One forward pass (ModelInfer, raw FP32 both ways). {@code shape} is the input's shape in the
   * layer's data_format, batch first; {@code input} holds its elements.
   */
  public Tensor infer(String layer, float[] input, long[] shape) {
    ModelInferRequest.InferInputTensor.Builder tensor =
        ModelInferRequest.InferInputTensor.newBuilder().setName("input").setDatatype("FP32");
    for (long d : shape) tensor.addShape(d);
    ModelInferResponse response =
        call(inference)
            .modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(layer)
                    .addInputs(tensor)
                    .addRawInputContents(floatBytes(input))
                    .build());
    return outputTensor(response);
  }

  // The response's one FP32 output, raw or typed.
  private static Tensor outputTensor(ModelInferResponse response) {
    if (response.getOutputsCount() != 1) {
      throw Status.INTERNAL
          .withDescription(response.getOutputsCount() + " outputs in the response, want 1")
          .asRuntimeException();
    }
    ModelInferResponse.InferOutputTensor out = response.getOutputs(0);
    if (!out.getDatatype().equals("FP32")) {
      throw Status.INTERNAL
          .withDescription("output datatype " + out.getDatatype() + ", want FP32")
          .asRuntimeException();
    }
    long[] shape = out.getShapeList().stream().mapToLong(Long::longValue).toArray();
    long count = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    float[] values;
    if (response.getRawOutputContentsCount() > 0) {
      ByteString raw = response.getRawOutputContents(0);
      if (raw.size() != 4 * count) {
        throw Status.INTERNAL
            .withDescription(raw.size() + " output bytes for shape " + Arrays.toString(shape))
            .asRuntimeException();
      }
      values = new float[(int) count];
      raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
    } else {
      List<Float> typed = out.getContents().getFp32ContentsList();
      if (typed.size() != count) {
        throw Status.INTERNAL
            .withDescription(typed.size() + " output values for shape " + Arrays.toString(shape))
            .asRuntimeException();
      }
      values = new float[typed.size()];
      for (int i = 0; i < values.length; i++) values[i] = typed.get(i);
    }
    return new Tensor(shape, values);
  }

  /** The repository is loaded and the server is not draining. */
  public boolean serverReady() {
    return call(inference).serverReady(ServerReadyRequest.getDefaultInstance()).getReady();
  }

  /**
   * grpc.health.v1.Health/Check: {@code service} "" = the whole server, or e.g.
   * "inference.GRPCInferenceService".
   */
  public ServingStatus health(String service) {
    return call(health).check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
  }

  /**
   * The server's Layer.weight_checksum of these weights: FNV-1a 64 over the kernel's then the
   * bias' float32 little-endian bytes (bias null = none).
   */
  public static long weightChecksum(float[] kernel, float[] bias) {
    long hash = 0xcbf29ce484222325L;
    for (float[] part : new float[][] {kernel, bias}) {
      if (part == null) continue;
      for (byte b : floatBytes(part).toByteArray()) {
        hash = (hash ^ (b & 0xff)) * 0x100000001b3L;
      }
    }
    return hash;
  }

  private static ByteString floatBytes(float[] values) {
    ByteBuffer buffer = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    buffer.asFloatBuffer().put(values);
    return ByteString.copyFrom(buffer.array());
  }

  /** Closes the channel, waiting up to 5 s for calls in flight. */
  @Override
  public void close() throws InterruptedException {
    channel.shutdown();
    if (!channel.awaitTermination(5, TimeUnit.SECONDS)) channel.shutdownNow();
  }
}
