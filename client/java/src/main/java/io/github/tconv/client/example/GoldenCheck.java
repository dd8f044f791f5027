package io.github.tconv.client.example;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import io.github.tconv.client.TconvClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import tconv.v1.LayerServiceOuterClass.Layer;

/**
 * Checks a running tconv server against golden Keras results with the Java client: for a
 * channels_last case with bias, a channels_first case and a case without bias it creates the
 * layer with the case's weights, checks the weight checksum, runs ModelInfer and checks every
 * element within the conformance tolerance |got - want| <= 1e-4 + 1e-4 * |want|; then
 * getLayer/listLayers, NOT_FOUND for an unknown layer and for a deleted one. With a token it
 * also checks that a client without it is refused (UNAUTHENTICATED).
 *
 * <p>Usage: GoldenCheck HOST:PORT CASES.jsonl [CA.pem TOKEN_FILE]. Throws (non-zero exit) on
 * the first failed check.
 */
public final class GoldenCheck {
  /** One line of tests/conformance/conv2d_transpose_cases.jsonl. */
  record GoldenCase(
      String name,
      JsonObject config,
      long[] input_shape,
      float[] input,
      float[] kernel,
      float[] bias,
      double[] output,
      long[] output_shape) {
    boolean channelsFirst() {
      JsonElement format = config.get("data_format");
      return format != null && !format.isJsonNull() && format.getAsString().equalsIgnoreCase("channels_first");
    }

    long[] kernelShape() {
      JsonElement size = config.get("kernel_size");
      long kh, kw;
      if (size.isJsonArray()) {
        kh = size.getAsJsonArray().get(0).getAsLong();
        kw = size.getAsJsonArray().get(1).getAsLong();
      } else {
        kh = kw = size.getAsLong();
      }
      long inChannels = input_shape[channelsFirst() ? 1 : 3];
      return new long[] {kh, kw, config.get("filters").getAsLong(), inChannels};
    }
  }

  private static void check(boolean ok, String message) {
    if (!ok) throw new AssertionError(message);
  }

  private static void expectCode(Status.Code want, Runnable call, String what) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      check(e.getStatus().getCode() == want, what + ": " + e.getStatus() + ", want " + want);
      System.out.println("ok  " + what + " -> " + want + " (" + e.getStatus().getDescription() + ")");
      return;
    }
    throw new AssertionError(what + ": succeeded, want " + want);
  }

  private static void runCase(TconvClient client, GoldenCase c) {
    String name = "java_" + c.name();
    long[] kernelShape = c.kernelShape();
    Layer layer =
        client.createLayer(
            new TconvClient.LayerSpec(name, c.config().toString(), c.kernel(), kernelShape, c.bias(), true));
    long want = TconvClient.weightChecksum(c.kernel(), c.bias());
    check(layer.getWeightChecksum() == want,
        name + ": weight checksum " + Long.toUnsignedString(layer.getWeightChecksum())
            + ", want " + Long.toUnsignedString(want));

    TconvClient.Tensor got = client.infer(name, c.input(), c.input_shape());
    check(Arrays.equals(got.shape(), c.output_shape()) && got.values().length == c.output().length,
        name + ": output " + got + ", want shape " + Arrays.toString(c.output_shape()));
    double maxErr = 0;
    for (int i = 0; i < c.output().length; i++) {
      double w = (float) c.output()[i];
      double g = got.values()[i];
      double err = Math.abs(g - w);
      check(Double.isFinite(g) && err <= 1e-4 + 1e-4 * Math.abs(w),
          name + ": element " + i + " got " + g + " want " + w);
      maxErr = Math.max(maxErr, err);
    }
    System.out.printf("ok  %s: %d elements, max |err| %.2e%n", name, got.values().length, maxErr);

    check(Arrays.equals(
            client.getLayer(name).getKernelShapeList().stream().mapToLong(Long::longValue).toArray(),
            kernelShape),
        name + ": GetLayer's kernel_shape");
    check(client.listLayers().stream().anyMatch(l -> l.getName().equals(name)), name + ": not in ListLayers");
    client.deleteLayer(name);
    expectCode(Status.Code.NOT_FOUND, () -> client.infer(name, c.input(), c.input_shape()),
        name + ": infer after delete");
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2 && args.length != 4) {
      throw new IllegalArgumentException("usage: GoldenCheck HOST:PORT CASES.jsonl [CA.pem TOKEN_FILE]");
    }
    String target = args[0];
    Path ca = args.length == 4 ? Path.of(args[2]) : null;
    String token = args.length == 4 ? Files.readString(Path.of(args[3])).strip() : null;

    Gson gson = new Gson();
    List<GoldenCase> cases = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(args[1]))) {
      if (!line.isBlank()) cases.add(gson.fromJson(line, GoldenCase.class));
    }
    List<Predicate<GoldenCase>> wanted =
        List.of(c -> !c.channelsFirst() && c.bias() != null, GoldenCase::channelsFirst, c -> c.bias() == null);

    TconvClient.Options options = new TconvClient.Options(ca, token, Duration.ofSeconds(30));
    try (TconvClient client = TconvClient.connect(target, options)) {
      check(client.health("") == ServingStatus.SERVING, "health is not SERVING");
      check(client.serverReady(), "server is not ready");
      for (Predicate<GoldenCase> want : wanted) {
        runCase(client, cases.stream().filter(want).findFirst().orElseThrow());
      }
      expectCode(Status.Code.NOT_FOUND,
          () -> client.infer("java_no_such_layer", new float[] {0}, new long[] {1, 1, 1, 1}),
          "infer on an unknown layer");
      expectCode(Status.Code.NOT_FOUND, () -> client.getLayer("java_no_such_layer"),
          "getLayer on an unknown layer");
    }
    if (token != null) {
      try (TconvClient anonymous = TconvClient.connect(target, new TconvClient.Options(ca, null, Duration.ofSeconds(30)))) {
        expectCode(Status.Code.UNAUTHENTICATED,
            () -> anonymous.createLayer(new TconvClient.LayerSpec(
                "java_anonymous", "{\"filters\": 1, \"kernel_size\": 1}", new float[] {1}, new long[] {1, 1, 1, 1}, new float[] {0}, false)),
            "createLayer without the token");
      }
    }
    System.out.println("java client: all checks passed");
  }
}
