// Command tconv-golden checks a running tconv server against golden Keras results with the Go
// client: for a channels_last case with bias, a channels_first case and a case without bias
// it creates the layer with the case's weights, checks the weight checksum, runs ModelInfer
// and checks every element within the conformance tolerance
// |got - want| <= 1e-4 + 1e-4 * |want|; then it checks GetLayer/ListLayers, that an unknown
// layer fails with codes.NotFound and that a deleted layer is gone. With -token_file it also
// checks that a client without the token is refused (codes.Unauthenticated).
//
//	go run ./cmd/tconv-golden -target 127.0.0.1:8001 -cases tests/conformance/conv2d_transpose_cases.jsonl
//
// -ca PEM (TLS with that CA) and -token_file FILE (bearer token) reach a secured server.
// Exits 0 when every check passes, 1 with the reason otherwise.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tconv/tconv/client/go/pb/tconvv1"
	"github.com/tconv/tconv/client/go/tconv"
)

// goldenCase is one line of tests/conformance/conv2d_transpose_cases.jsonl.
type goldenCase struct {
	Name        string          `json:"name"`
	Config      json.RawMessage `json:"config"`
	InputShape  []int64         `json:"input_shape"`
	Input       []float32       `json:"input"`
	Kernel      []float32       `json:"kernel"`
	Bias        []float32       `json:"bias"`
	Output      []float64       `json:"output"`
	OutputShape []int64         `json:"output_shape"`
}

// The config fields the client needs to shape the kernel.
type layerConfig struct {
	Filters    int64  `json:"filters"`
	KernelSize any    `json:"kernel_size"` // an int or [kh, kw]
	DataFormat string `json:"data_format"`
	UseBias    *bool  `json:"use_bias"`
}

func (c goldenCase) kernelShape() ([]int64, bool, error) {
	var cfg layerConfig
	if err := json.Unmarshal(c.Config, &cfg); err != nil {
		return nil, false, err
	}
	var kh, kw int64
	switch size := cfg.KernelSize.(type) {
	case float64:
		kh, kw = int64(size), int64(size)
	case []any:
		kh, kw = int64(size[0].(float64)), int64(size[1].(float64))
	default:
		return nil, false, fmt.Errorf("%s: kernel_size %v", c.Name, cfg.KernelSize)
	}
	channelsFirst := strings.EqualFold(cfg.DataFormat, "channels_first")
	inChannels := c.InputShape[3]
	if channelsFirst {
		inChannels = c.InputShape[1]
	}
	return []int64{kh, kw, cfg.Filters, inChannels}, channelsFirst, nil
}

func readCases(path string) ([]goldenCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []goldenCase
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	for scanner.Scan() {
		if strings.TrimSpace(scanner.Text()) == "" {
			continue
		}
		var c goldenCase
		if err := json.Unmarshal(scanner.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		cases = append(cases, c)
	}
	return cases, scanner.Err()
}

// pick returns the first channels_last case with bias, the first channels_first case and the
// first case without bias.
func pick(cases []goldenCase) ([]goldenCase, error) {
	var picked []goldenCase
	wants := []func(channelsFirst, hasBias bool) bool{
		func(cf, b bool) bool { return !cf && b },
		func(cf, b bool) bool { return cf },
		func(cf, b bool) bool { return !b },
	}
	for _, want := range wants {
		i := slices.IndexFunc(cases, func(c goldenCase) bool {
			_, cf, err := c.kernelShape()
			return err == nil && want(cf, len(c.Bias) > 0)
		})
		if i < 0 {
			return nil, errors.New("the cases file lacks a channels_last/channels_first/no-bias case")
		}
		picked = append(picked, cases[i])
	}
	return picked, nil
}

func runCase(ctx context.Context, client *tconv.Client, c goldenCase) error {
	shape, _, err := c.kernelShape()
	if err != nil {
		return err
	}
	name := "go_" + c.Name
	layer, err := client.CreateLayer(ctx, tconv.LayerSpec{
		Name: name, ConfigJSON: string(c.Config), Kernel: c.Kernel, KernelShape: shape,
		Bias: c.Bias, Replace: true,
	})
	if err != nil {
		return fmt.Errorf("%s: create: %w", name, err)
	}
	if want := tconv.WeightChecksum(c.Kernel, c.Bias); layer.GetWeightChecksum() != want {
		return fmt.Errorf("%s: weight checksum %d, want %d", name, layer.GetWeightChecksum(), want)
	}
	got, err := client.Infer(ctx, name, c.Input, c.InputShape)
	if err != nil {
		return fmt.Errorf("%s: infer: %w", name, err)
	}
	if !slices.Equal(got.Shape, c.OutputShape) || len(got.Values) != len(c.Output) {
		return fmt.Errorf("%s: output %v, want shape %v", name, got, c.OutputShape)
	}
	maxErr := 0.0
	for i, w := range c.Output {
		want := float64(float32(w))
		g := float64(got.Values[i])
		diff := math.Abs(g - want)
		if math.IsNaN(g) || math.IsInf(g, 0) || diff > 1e-4+1e-4*math.Abs(want) {
			return fmt.Errorf("%s: element %d got %v want %v", name, i, g, want)
		}
		maxErr = max(maxErr, diff)
	}
	fmt.Printf("ok  %s: %d elements, max |err| %.2e\n", name, len(got.Values), maxErr)

	described, err := client.GetLayer(ctx, name)
	if err != nil || !slices.Equal(described.GetKernelShape(), shape) {
		return fmt.Errorf("%s: GetLayer %v, kernel_shape %v: %v", name, described, shape, err)
	}
	listed, err := client.ListLayers(ctx)
	if err != nil || !slices.ContainsFunc(listed, func(l *tconvv1.Layer) bool { return l.GetName() == name }) {
		return fmt.Errorf("%s: not in ListLayers (%v)", name, err)
	}
	if err := client.DeleteLayer(ctx, name); err != nil {
		return fmt.Errorf("%s: delete: %w", name, err)
	}
	_, err = client.Infer(ctx, name, c.Input, c.InputShape)
	return expectCode(codes.NotFound, err, name+": infer after delete")
}

func expectCode(want codes.Code, err error, what string) error {
	if err == nil {
		return fmt.Errorf("%s: succeeded, want %v", what, want)
	}
	if got := status.Code(err); got != want {
		return fmt.Errorf("%s: %v, want %v", what, err, want)
	}
	fmt.Printf("ok  %s -> %v (%s)\n", what, want, status.Convert(err).Message())
	return nil
}

func options(caFile, tokenFile string) (tconv.Options, error) {
	var opts tconv.Options
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return opts, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return opts, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		opts.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if tokenFile != "" {
		token, err := os.ReadFile(tokenFile)
		if err != nil {
			return opts, err
		}
		opts.Token = strings.TrimSpace(string(token))
	}
	return opts, nil
}

func run() error {
	target := flag.String("target", "127.0.0.1:8001", "tconv-server gRPC address")
	casesPath := flag.String("cases", "tests/conformance/conv2d_transpose_cases.jsonl", "golden cases (JSON lines)")
	caFile := flag.String("ca", "", "PEM CA certificate: connect with TLS")
	tokenFile := flag.String("token_file", "", "file holding the bearer token")
	flag.Parse()

	opts, err := options(*caFile, *tokenFile)
	if err != nil {
		return err
	}
	client, err := tconv.Dial(*target, opts)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx := context.Background()

	if serving, err := client.Health(ctx, ""); err != nil || serving != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health: %v %v", serving, err)
	}
	if ready, err := client.ServerReady(ctx); err != nil || !ready {
		return fmt.Errorf("server ready: %v %v", ready, err)
	}
	cases, err := readCases(*casesPath)
	if err != nil {
		return err
	}
	picked, err := pick(cases)
	if err != nil {
		return err
	}
	for _, c := range picked {
		if err := runCase(ctx, client, c); err != nil {
			return err
		}
	}
	_, err = client.Infer(ctx, "go_no_such_layer", []float32{0}, []int64{1, 1, 1, 1})
	if err := expectCode(codes.NotFound, err, "infer on an unknown layer"); err != nil {
		return err
	}
	_, err = client.GetLayer(ctx, "go_no_such_layer")
	if err := expectCode(codes.NotFound, err, "GetLayer on an unknown layer"); err != nil {
		return err
	}
	if opts.Token != "" {
		// The same server without the token: a layer write must be refused.
		opts.Token = ""
		anonymous, err := tconv.Dial(*target, opts)
		if err != nil {
			return err
		}
		defer anonymous.Close()
		_, err = anonymous.CreateLayer(ctx, tconv.LayerSpec{Name: "go_anonymous", ConfigJSON: `{"filters": 1, "kernel_size": 1}`, InChannels: 1})
		if err := expectCode(codes.Unauthenticated, err, "CreateLayer without the token"); err != nil {
			return err
		}
	}
	fmt.Println("go client: all checks passed")
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}
