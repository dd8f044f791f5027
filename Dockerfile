# tconv-server image: build with Debian's -dev packages, run on debian:bookworm-slim with only
# the runtime libraries. Works with `docker build .` and `podman build --format docker .`
# (the docker format keeps the HEALTHCHECK; podman's default OCI format drops it).
#
#   docker build -t tconv .
#   docker run --rm -p 8001:8001 -p 8002:8002 tconv            # serves the example layers
#   docker run --rm -p 8001:8001 -v tconv-models:/models tconv  # layers you create persist
#
# Layer order keeps rebuilds cheap: the dependency layer only changes with
# scripts/install-deps.sh, the build layer with the sources.

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY proto/ proto/
COPY status/ status/
COPY npy/ npy/
COPY repository/ repository/
COPY conformance/ conformance/
COPY kernel/ kernel/
COPY server/ server/
COPY client/ client/
# Only what the image ships: the server and the `tconv` tool (HEALTHCHECK), no tests/benchmarks.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DTCONV_BUILD_TESTS=OFF -DTCONV_BUILD_BENCH=OFF \
 && cmake --build /build --target tconv-server tconv \
 && mkdir -p /out \
 && install -m 0755 -s "$(find /build -type f -name tconv-server -perm -u+x | head -1)" /out/ \
 && install -m 0755 -s "$(find /build -type f -name tconv -perm -u+x | head -1)" /out/
# The default repository: the example layers, created by the server just built (it writes the
# configs and the seeded weights itself).
COPY deploy/example_repository/ deploy/example_repository/
COPY deploy/docker/ deploy/docker/
RUN deploy/docker/build-example-repository.sh /out/tconv-server /out/tconv /out/models

FROM debian:bookworm-slim
# Runtime libraries only (the shared objects the binaries link against; checked with ldd below).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libtbb12 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 \
      libhdf5-103-1 libzip4 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/* /var/log/*
COPY --from=build /out/tconv-server /out/tconv /usr/local/bin/
RUN if ldd /usr/local/bin/tconv-server /usr/local/bin/tconv | grep 'not found'; then exit 1; fi \
 && groupadd --system --gid 10001 tconv \
 && useradd --system --uid 10001 --gid tconv --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tconv
# The default repository: the example layers (dcgan_g1..g3). Mount a volume (or a directory) on
# /models to serve and persist your own; layers created through the API are written there.
COPY --from=build --chown=10001:10001 /out/models/ /models/
VOLUME ["/models"]
USER 10001:10001
WORKDIR /models
# 8001: gRPC (Open Inference Protocol, tconv.v1.LayerService, grpc.health.v1); 8002: /metrics.
EXPOSE 8001 8002
# The address the HEALTHCHECK probes: change it together with --grpc_address.
ENV TCONV_HEALTH_ADDRESS=127.0.0.1:8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD tconv health --server "$TCONV_HEALTH_ADDRESS" || exit 1
# Exec form: tconv-server is PID 1 and gets `docker stop`'s SIGTERM itself (graceful drain).
ENTRYPOINT ["/usr/local/bin/tconv-server"]
CMD ["--grpc_address=0.0.0.0:8001", "--metrics_address=0.0.0.0:8002", "--model_repository=/models"]
