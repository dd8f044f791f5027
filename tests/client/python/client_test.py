"""tconv-client (client/python, installed with pip) against real tconv-servers on loopback.

Every golden conformance case goes through create + infer and is checked element by element
against the Keras output; every refusal case must be INVALID_ARGUMENT; errors must carry their
gRPC code in TconvError. run_test.sh starts the servers and sets:
  TCONV_SERVER       plaintext server (control plane allowed from loopback)
  TCONV_TLS_SERVER   TLS server requiring a bearer token on every call (--auth_inference)
  TCONV_CA_FILE      the CA that signed the TLS server's certificate
  TCONV_TOKEN        its token
  TCONV_CONFORMANCE  tests/conformance
"""
import concurrent.futures
import datetime
import json
import os
import pathlib
import unittest

import grpc
import numpy as np
# Before tconv_client on purpose: both define the inference.* messages, and tconv_client must
# import after (and work beside) Triton's client.
import tritonclient.grpc as triton

import tconv_client
from tconv_client import TconvError

SERVER = os.environ["TCONV_SERVER"]
CONFORMANCE = pathlib.Path(os.environ["TCONV_CONFORMANCE"])
Code = grpc.StatusCode


def read_cases(name):
    with open(CONFORMANCE / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def channels_first(config):
    return config.get("data_format", "channels_last").lower() == "channels_first"


def case_arrays(case):
    """(x, kernel, bias) of a case; kernel in Keras layout (kh, kw, filters, in_channels)."""
    config = case["config"]
    ks = config["kernel_size"]
    kh, kw = ks if isinstance(ks, list) else [ks, ks]
    in_channels = case["input_shape"][1 if channels_first(config) else 3]
    x = np.array(case["input"], dtype=np.float32).reshape(case["input_shape"])
    kernel = np.array(case["kernel"], dtype=np.float32).reshape(kh, kw, config["filters"], in_channels)
    bias = None if case.get("bias") is None else np.array(case["bias"], dtype=np.float32)
    return x, kernel, bias


def assert_golden(test, got, case):
    want = np.array(case["output"], dtype=np.float64).reshape(case["output_shape"])
    test.assertEqual(got.dtype, np.float32)
    test.assertEqual(got.shape, want.shape, case["name"])
    err = np.abs(got.astype(np.float64) - want)
    bound = 1e-4 + 1e-4 * np.abs(want)
    worst = int(np.argmax(err - bound))
    test.assertTrue(np.all(np.isfinite(got)) and np.all(err <= bound),
                    f"{case['name']}: element {worst} got {got.flat[worst]} want {want.flat[worst]}")


class GoldenCases(unittest.TestCase):
    """Every golden case (the independent Keras reference and real Keras 3 / tf-keras)."""

    @classmethod
    def setUpClass(cls):
        cls.client = tconv_client.Client(SERVER)
        cls.client.wait_ready(timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def run_cases(self, file_name, prefix):
        cases = [c for c in read_cases(file_name) if "expect_error" not in c]
        self.assertGreater(len(cases), 10)
        for case in cases:
            with self.subTest(case=case["name"]):
                x, kernel, bias = case_arrays(case)
                name = f"{prefix}_{case['name']}"
                layer = self.client.create(name, case["config"], kernel, bias, replace=True)
                self.assertEqual(layer.name, name)
                self.assertEqual(layer.kernel_shape, kernel.shape)
                self.assertEqual(layer.weight_checksum, tconv_client.weight_checksum(kernel, bias))
                assert_golden(self, self.client.infer(name, x), case)
                self.client.delete(name)
        print(f"{file_name}: {len(cases)} golden cases through create + infer")

    def test_reference_cases(self):
        self.run_cases("conv2d_transpose_cases.jsonl", "py")

    def test_real_keras_cases(self):
        self.run_cases("keras3_cases.jsonl", "pyk")

    def test_refusal_cases_are_invalid_argument(self):
        """What Keras refuses, at construction or when called, tconv refuses with INVALID_ARGUMENT."""
        cases = [c for name in ("conv2d_transpose_errors.jsonl", "keras3_cases.jsonl")
                 for c in read_cases(name) if "expect_error" in c]
        self.assertGreater(len(cases), 10)
        for case in cases:
            with self.subTest(case=case["name"]):
                name = "pyerr_" + case["name"]
                in_channels = case["input_shape"][1 if channels_first(case["config"]) else 3]
                with self.assertRaises(TconvError) as caught:
                    if "kernel" in case:
                        x, kernel, bias = case_arrays(case)
                        self.client.create(name, case["config"], kernel, bias, replace=True)
                    else:
                        x = np.zeros(case["input_shape"], dtype=np.float32)
                        self.client.create(name, case["config"], None, in_channels=in_channels,
                                           replace=True)
                    self.client.infer(name, x)
                self.assertEqual(caught.exception.code, Code.INVALID_ARGUMENT, caught.exception)
                try:
                    self.client.delete(name)
                except TconvError as e:
                    self.assertEqual(e.code, Code.NOT_FOUND)


class Api(unittest.TestCase):
    """The control plane, inference checks and errors on one channels_last and one
    channels_first golden case."""

    @classmethod
    def setUpClass(cls):
        cls.client = tconv_client.Client(SERVER)
        cls.client.wait_ready(timeout=30)
        cases = read_cases("conv2d_transpose_cases.jsonl")
        cls.last = next(c for c in cases if not channels_first(c["config"]) and c.get("bias"))
        cls.first = next(c for c in cases if channels_first(c["config"]))

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def create(self, name, case, **kwargs):
        x, kernel, bias = case_arrays(case)
        layer = self.client.create(name, case["config"], kernel, bias, **kwargs)
        self.addCleanup(self.delete_quietly, name)
        return layer, x

    def delete_quietly(self, name):
        try:
            self.client.delete(name)
        except TconvError:
            pass

    def assert_code(self, code, call, *args, **kwargs):
        with self.assertRaises(TconvError) as caught:
            call(*args, **kwargs)
        self.assertEqual(caught.exception.code, code, caught.exception)
        self.assertTrue(caught.exception.message)
        return caught.exception.message

    def test_health(self):
        self.assertEqual(self.client.health(), "SERVING")
        self.assertEqual(self.client.health("inference.GRPCInferenceService"), "SERVING")
        self.assert_code(Code.NOT_FOUND, self.client.health, "no.such.Service")

    def test_create_get_list_delete(self):
        layer, x = self.create("py_api_layer", self.last)
        self.assertEqual(layer.config["filters"], self.last["config"]["filters"])
        self.assertEqual(layer.in_channels, x.shape[3])
        self.assertEqual(layer.shape_rule.data_format, "channels_last")
        self.assertGreater(layer.batching.max_batch_size, 0)  # the server's default, filled in
        self.assertLess(abs(datetime.datetime.now(datetime.timezone.utc) - layer.created),
                        datetime.timedelta(minutes=5))

        got = self.client.get("py_api_layer", input_shape=list(x.shape))
        self.assertEqual(got.weight_checksum, layer.weight_checksum)
        self.assertEqual(got.output_shape, tuple(self.last["output_shape"]))
        self.assertIn("py_api_layer", [l.name for l in self.client.list()])
        names = [l.name for l in self.client.list()]
        self.assertEqual(names, sorted(names))

        self.assert_code(Code.ALREADY_EXISTS, self.create, "py_api_layer", self.last)
        replaced, _ = self.create("py_api_layer", self.first, replace=True)
        self.assertEqual(replaced.shape_rule.data_format, "channels_first")

        self.client.delete("py_api_layer")
        self.assert_code(Code.NOT_FOUND, self.client.get, "py_api_layer")
        self.assert_code(Code.NOT_FOUND, self.client.delete, "py_api_layer")
        self.assertNotIn("py_api_layer", [l.name for l in self.client.list()])

    def test_create_with_server_drawn_weights_and_batching(self):
        config = dict(self.last["config"], kernel_initializer={
            "class_name": "GlorotUniform", "config": {"seed": 7}})
        batching = tconv_client.Batching(max_batch_size=4,
                                         batch_timeout=datetime.timedelta(microseconds=500),
                                         max_queue_size=64)
        layer = self.client.create("py_api_drawn", config, None, in_channels=3, seed=1,
                                   batching=batching)
        self.addCleanup(self.delete_quietly, "py_api_drawn")
        self.assertEqual(layer.batching, batching)
        self.assertEqual(layer.kernel_shape[3], 3)
        y = self.client.infer("py_api_drawn", np.ones((2, 4, 4, 3), np.float32))
        self.assertEqual(y.shape[0], 2)

    def test_bad_create_arguments(self):
        message = self.assert_code(Code.INVALID_ARGUMENT, self.client.create, "py_api_bad",
                                   dict(self.last["config"], filters=0), None, in_channels=3)
        self.assertIn("filters", message)
        self.assert_code(Code.INVALID_ARGUMENT, self.client.create, "py_api_bad",
                         self.last["config"], np.zeros((2, 2, 3, 3)))  # kernel_size is 5x5
        self.assert_code(Code.INVALID_ARGUMENT, self.client.create, "bad name!",
                         self.last["config"], None, in_channels=3)
        self.assert_code(Code.INVALID_ARGUMENT, self.client.create, "py_api_bad", "{not json",
                         None, in_channels=3)
        self.assert_code(Code.INVALID_ARGUMENT, self.client.create, "py_api_bad",
                         {"filters": object()}, None, in_channels=3)
        self.assert_code(Code.INVALID_ARGUMENT, self.client.create, "py_api_bad",
                         self.last["config"], np.zeros((5, 5, 3, 3), dtype=complex))

    def test_infer_channels_first_and_dtypes(self):
        _, x = self.create("py_api_first", self.first)
        assert_golden(self, self.client.infer("py_api_first", x), self.first)
        # float64 (NumPy's default) and nested lists are converted to float32, as Keras does.
        assert_golden(self, self.client.infer("py_api_first", x.astype(np.float64)), self.first)
        assert_golden(self, self.client.infer("py_api_first", x.tolist()), self.first)
        # A non-contiguous view is sent as its values, not its memory.
        doubled = np.repeat(x, 2, axis=0)[::2]
        self.assertFalse(doubled.flags["C_CONTIGUOUS"])
        assert_golden(self, self.client.infer("py_api_first", doubled), self.first)
        y = self.client.infer("py_api_first", x)
        y[...] = 0  # the answer is an ordinary writable array

    def test_infer_batch_is_examples_side_by_side(self):
        _, x = self.create("py_api_batch", self.last)
        one = self.client.infer("py_api_batch", x[:1])
        batch = self.client.infer("py_api_batch", np.concatenate([x[:1]] * 3))
        self.assertEqual(batch.shape, (3,) + one.shape[1:])
        for i in range(3):
            np.testing.assert_array_equal(batch[i], one[0])

    def test_infer_errors(self):
        _, x = self.create("py_api_err", self.last)
        self.assert_code(Code.NOT_FOUND, self.client.infer, "py_no_such_layer", x)
        # Wrong channel count: only the server knows it; its message says what it expected.
        wrong = np.zeros(x.shape[:3] + (x.shape[3] + 1,), np.float32)
        message = self.assert_code(Code.INVALID_ARGUMENT, self.client.infer, "py_api_err", wrong)
        self.assertIn(str(x.shape[3]), message)
        # Refused before sending: not 4-D, not real numbers.
        self.assert_code(Code.INVALID_ARGUMENT, self.client.infer, "py_api_err", x[0])
        self.assert_code(Code.INVALID_ARGUMENT, self.client.infer, "py_api_err", x.astype(complex))
        self.assert_code(Code.INVALID_ARGUMENT, self.client.infer, "py_api_err",
                         np.full(x.shape, "a"))
        self.assert_code(Code.INVALID_ARGUMENT, self.client.infer, "py_api_err",
                         np.zeros((0,) + x.shape[1:], np.float32))
        self.assert_code(Code.INVALID_ARGUMENT, self.client.infer, "py_api_err", [[1.0], [1.0, 2.0]])

    def test_one_client_shared_by_threads(self):
        """8 threads x 25 calls on one Client, each with its own input (merged into batches by
        the server): every answer is its own input's, bit for bit."""
        _, x = self.create("py_api_threads", self.last)
        rng = np.random.default_rng(5)
        inputs = [rng.uniform(-1, 1, x.shape).astype(np.float32) for _ in range(200)]
        want = [self.client.infer("py_api_threads", xi) for xi in inputs]  # one at a time
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda xi: self.client.infer("py_api_threads", xi), inputs))
        for i, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_array_equal(g, w, err_msg=f"call {i}")

    def test_tritonclient_in_the_same_process_agrees(self):
        _, x = self.create("py_api_triton", self.last)
        triton_client = triton.InferenceServerClient(SERVER)
        self.addCleanup(triton_client.close)
        tensor = triton.InferInput("input", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        answer = triton_client.infer("py_api_triton", [tensor]).as_numpy("output")
        np.testing.assert_array_equal(answer, self.client.infer("py_api_triton", x))

    def test_unreachable_server_is_unavailable(self):
        with tconv_client.Client("127.0.0.1:1", timeout=5) as client:
            self.assert_code(Code.UNAVAILABLE, client.list)

    def test_client_arguments(self):
        self.assert_code(Code.INVALID_ARGUMENT, tconv_client.Client, "")
        self.assert_code(Code.INVALID_ARGUMENT, tconv_client.Client, SERVER, cert_file="c.pem")


@unittest.skipUnless(os.environ.get("TCONV_TLS_SERVER"), "no TLS server (openssl missing)")
class TlsAndToken(unittest.TestCase):
    """A TLS server that wants the bearer token on every call."""

    def setUp(self):
        self.target = os.environ["TCONV_TLS_SERVER"]
        self.ca = os.environ["TCONV_CA_FILE"]
        self.token = os.environ["TCONV_TOKEN"]

    def client(self, **kwargs):
        client = tconv_client.Client(self.target, timeout=10, **kwargs)
        self.addCleanup(client.close)
        return client

    def test_tls_with_token_serves(self):
        case = read_cases("conv2d_transpose_cases.jsonl")[0]
        x, kernel, bias = case_arrays(case)
        client = self.client(ca_file=self.ca, token=self.token)
        self.assertEqual(client.health(), "SERVING")
        client.create("py_tls", case["config"], kernel, bias, replace=True)
        assert_golden(self, client.infer("py_tls", x), case)
        client.delete("py_tls")

    def test_token_missing_or_wrong(self):
        with self.assertRaises(TconvError) as caught:
            self.client(ca_file=self.ca).list()
        self.assertEqual(caught.exception.code, Code.UNAUTHENTICATED)
        with self.assertRaises(TconvError) as caught:
            self.client(ca_file=self.ca, token="not-the-token").list()
        self.assertEqual(caught.exception.code, Code.PERMISSION_DENIED)

    def test_untrusted_or_plaintext_client_cannot_connect(self):
        with self.assertRaises(TconvError) as caught:
            self.client(tls=True, token=self.token).list()  # system roots do not know the test CA
        self.assertEqual(caught.exception.code, Code.UNAVAILABLE)
        with self.assertRaises(TconvError) as caught:
            self.client(token=self.token).list()  # plaintext to a TLS port
        self.assertEqual(caught.exception.code, Code.UNAVAILABLE)


if __name__ == "__main__":
    unittest.main(verbosity=2)
