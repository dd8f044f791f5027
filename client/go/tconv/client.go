// Package tconv is a thin Go client of a tconv server: the control plane
// (tconv.v1.LayerService), inference through the Open Inference Protocol
// (inference.GRPCInferenceService, model name = layer name) and grpc.health.v1.
//
//	c, err := tconv.Dial("127.0.0.1:8001", tconv.Options{})
//	layer, err := c.CreateLayer(ctx, tconv.LayerSpec{Name: "gen1", ConfigJSON: cfg, ...})
//	out, err := c.Infer(ctx, "gen1", input, []int64{1, 7, 7, 256})
//
// Errors are gRPC status errors, unchanged: status.Code(err) is the server's code
// (codes.NotFound for an unknown layer, codes.InvalidArgument for a bad shape, ...), and
// status.Convert(err).Message() its message. A call whose context has no deadline gets
// Options.Timeout. A Client is safe for concurrent use; Close it when done.
package tconv

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tconv/tconv/client/go/pb/inference"
	"github.com/tconv/tconv/client/go/pb/tconvv1"
)

// Options of Dial. The zero value is a plaintext connection without a token.
type Options struct {
	// TLS configuration; nil = plaintext. For a private CA set RootCAs; for mutual TLS set
	// Certificates too.
	TLS *tls.Config
	// Sent as "authorization: Bearer <Token>" on every call when not empty (what
	// tconv-server's --auth_token_file expects).
	Token string
	// Deadline of a call whose context has none; 0 = 30 s.
	Timeout time.Duration
	// Largest message sent or received, bytes; 0 = 1 GiB (gRPC's 4 MiB default is below one
	// 256x256x3 batch of 8; the server enforces its own limit).
	MaxMessageBytes int
}

// Client holds one gRPC connection to a tconv server.
type Client struct {
	conn      *grpc.ClientConn
	layers    tconvv1.LayerServiceClient
	inference inference.GRPCInferenceServiceClient
	health    healthpb.HealthClient
	timeout   time.Duration
}

// bearerToken sends "authorization: Bearer <token>" with every call of the connection, the raw
// stubs' included. It does not insist on TLS: a loopback or in-cluster plaintext connection
// may carry a token too, as with the C++ client.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }

// Dial makes a client for target ("host:port" or any gRPC target URI). It does not connect:
// the first call does, and fails with codes.Unavailable when no server answers.
func Dial(target string, opts Options) (*Client, error) {
	if target == "" {
		return nil, status.Error(codes.InvalidArgument, "tconv: empty target")
	}
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	maxBytes := opts.MaxMessageBytes
	if maxBytes <= 0 {
		maxBytes = 1 << 30
	}
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxBytes), grpc.MaxCallSendMsgSize(maxBytes))}
	if opts.Token != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearerToken(opts.Token)))
	}
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Client{
		conn:      conn,
		layers:    tconvv1.NewLayerServiceClient(conn),
		inference: inference.NewGRPCInferenceServiceClient(conn),
		health:    healthpb.NewHealthClient(conn),
		timeout:   timeout,
	}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Layers and Inference give the generated stubs for calls this client does not wrap
// (ModelMetadata, RepositoryIndex, ...); they send the token too, but set no default deadline.
func (c *Client) Layers() tconvv1.LayerServiceClient              { return c.layers }
func (c *Client) Inference() inference.GRPCInferenceServiceClient { return c.inference }

// call gives ctx the default deadline when it has none.
func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// LayerSpec is what CreateLayer sends (see proto/tconv/v1/layer_service.proto).
type LayerSpec struct {
	Name string
	// Keras JSON: a Conv2DTranspose get_config() dict, or {"class_name": ..., "config": ...}.
	ConfigJSON string
	// Keras layout (kh, kw, filters, in_channels), row-major. Empty = the server draws the
	// weights from the config's initializers with Seed; then InChannels is required.
	Kernel      []float32
	KernelShape []int64
	Bias        []float32 // (filters); empty when use_bias is false
	InChannels  int64
	Seed        uint64
	Batching    *tconvv1.BatchingOptions // nil = the server's defaults
	Replace     bool                     // replace a layer of that name instead of AlreadyExists
}

// CreateLayer validates, stores and serves a layer.
func (c *Client) CreateLayer(ctx context.Context, spec LayerSpec) (*tconvv1.Layer, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := c.layers.CreateLayer(ctx, &tconvv1.CreateLayerRequest{
		Name:        spec.Name,
		ConfigJson:  spec.ConfigJSON,
		Kernel:      float32Bytes(spec.Kernel),
		KernelShape: spec.KernelShape,
		Bias:        float32Bytes(spec.Bias),
		InChannels:  spec.InChannels,
		Seed:        spec.Seed,
		Batching:    spec.Batching,
		Replace:     spec.Replace,
	})
	if err != nil {
		return nil, err
	}
	return resp.GetLayer(), nil
}

// GetLayer describes one layer; codes.NotFound when unknown.
func (c *Client) GetLayer(ctx context.Context, name string) (*tconvv1.Layer, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := c.layers.GetLayer(ctx, &tconvv1.GetLayerRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return resp.GetLayer(), nil
}

// ListLayers returns every served layer, sorted by name.
func (c *Client) ListLayers(ctx context.Context) ([]*tconvv1.Layer, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := c.layers.ListLayers(ctx, &tconvv1.ListLayersRequest{})
	if err != nil {
		return nil, err
	}
	return resp.GetLayers(), nil
}

// DeleteLayer stops serving a layer and removes it from the repository.
func (c *Client) DeleteLayer(ctx context.Context, name string) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	_, err := c.layers.DeleteLayer(ctx, &tconvv1.DeleteLayerRequest{Name: name})
	return err
}

// Tensor is a dense float32 tensor, row-major.
type Tensor struct {
	Shape  []int64
	Values []float32
}

// Infer runs one forward pass (ModelInfer, raw FP32 both ways). shape is the input's shape in
// the layer's data_format, batch first; input holds its elements.
func (c *Client) Infer(ctx context.Context, layer string, input []float32, shape []int64) (Tensor, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := c.inference.ModelInfer(ctx, &inference.ModelInferRequest{
		ModelName: layer,
		Inputs: []*inference.ModelInferRequest_InferInputTensor{
			{Name: "input", Datatype: "FP32", Shape: shape},
		},
		RawInputContents: [][]byte{float32Bytes(input)},
	})
	if err != nil {
		return Tensor{}, err
	}
	return outputTensor(resp)
}

// outputTensor reads the response's one FP32 output, raw or typed.
func outputTensor(resp *inference.ModelInferResponse) (Tensor, error) {
	if len(resp.GetOutputs()) != 1 {
		return Tensor{}, status.Errorf(codes.Internal, "tconv: %d outputs in the response, want 1", len(resp.GetOutputs()))
	}
	out := resp.GetOutputs()[0]
	if out.GetDatatype() != "FP32" {
		return Tensor{}, status.Errorf(codes.Internal, "tconv: output datatype %q, want FP32", out.GetDatatype())
	}
	count := int64(1)
	for _, d := range out.GetShape() {
		count *= d
	}
	var values []float32
	if len(resp.GetRawOutputContents()) > 0 {
		raw := resp.GetRawOutputContents()[0]
		if int64(len(raw)) != 4*count {
			return Tensor{}, status.Errorf(codes.Internal, "tconv: %d output bytes for shape %v", len(raw), out.GetShape())
		}
		values = make([]float32, count)
		for i := range values {
			values[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	} else {
		values = out.GetContents().GetFp32Contents()
		if int64(len(values)) != count {
			return Tensor{}, status.Errorf(codes.Internal, "tconv: %d output values for shape %v", len(values), out.GetShape())
		}
	}
	return Tensor{Shape: out.GetShape(), Values: values}, nil
}

// ServerReady is the Open Inference Protocol readiness: the repository is loaded and the
// server is not draining.
func (c *Client) ServerReady(ctx context.Context) (bool, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := c.inference.ServerReady(ctx, &inference.ServerReadyRequest{})
	return resp.GetReady(), err
}

// Health is grpc.health.v1.Health/Check: service "" = the whole server, or e.g.
// "inference.GRPCInferenceService".
func (c *Client) Health(ctx context.Context, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	return resp.GetStatus(), err
}

// WeightChecksum is the server's Layer.weight_checksum of these weights: FNV-1a 64 over the
// kernel's then the bias' float32 little-endian bytes.
func WeightChecksum(kernel, bias []float32) uint64 {
	hash := uint64(14695981039346656037)
	for _, b := range [][]byte{float32Bytes(kernel), float32Bytes(bias)} {
		for _, octet := range b {
			hash = (hash ^ uint64(octet)) * 1099511628211
		}
	}
	return hash
}

func float32Bytes(values []float32) []byte {
	if len(values) == 0 {
		return nil
	}
	out := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// String makes a Tensor readable in test failures.
func (t Tensor) String() string { return fmt.Sprintf("Tensor%v(%d values)", t.Shape, len(t.Values)) }
