"""Build hook of tconv-client: generates the Python gRPC stubs from tconv's proto/ into the
wheel (never into the source tree), with the grpcio-tools pinned in pyproject.toml.

The .proto files are found, in this order, at $TCONV_PROTO_DIR, at ./proto (an sdist carries
them there) or at ../../proto (this folder inside a tconv checkout: pip builds a local directory
in place, so the relative path holds). Every .proto below that folder is compiled, like
proto/CMakeLists.txt does for C++, so a message or RPC added there reaches Python unchanged.

protoc writes imports by proto path (`from inference import model_config_pb2`); they are
rewritten to `from tconv_client.proto.inference import ...` so the stubs live inside this
package and never shadow the top-level `grpc` package (grpc.health.v1's proto package), and
they register into tconv_client._pool's descriptor pool instead of protobuf's default one (see
there: otherwise tconv_client and tritonclient could not be imported together).
"""
import os
import pathlib
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = pathlib.Path(__file__).resolve().parent
STUB_PACKAGE = "tconv_client.proto"
DEFAULT_POOL = "_descriptor_pool.Default()"
BUILDER_IMPORT = "from google.protobuf.internal import builder as _builder"


def proto_root():
    candidates = [os.environ.get("TCONV_PROTO_DIR"), HERE / "proto", HERE.parent.parent / "proto"]
    for candidate in candidates:
        if candidate and (pathlib.Path(candidate) / "tconv/v1/layer_service.proto").is_file():
            return pathlib.Path(candidate).resolve()
    raise SystemExit(
        "tconv-client: cannot find tconv's proto/ folder (looked at $TCONV_PROTO_DIR, "
        f"{HERE / 'proto'} and {HERE.parent.parent / 'proto'}); build from a tconv checkout "
        "(pip install ./client/python) or set TCONV_PROTO_DIR")


def generate_stubs(out_dir):
    """Runs grpc_tools.protoc on every .proto under proto_root() into out_dir/tconv_client/proto."""
    import grpc_tools
    from grpc_tools import protoc

    root = proto_root()
    protos = sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))
    target = pathlib.Path(out_dir, *STUB_PACKAGE.split("."))
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    args = ["grpc_tools.protoc", f"-I{root}", f"-I{well_known}", f"--python_out={target}",
            f"--grpc_python_out={target}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit(f"tconv-client: protoc failed on {root}")

    # Every folder of generated code becomes a package, and imports point inside this one.
    packages = {str(pathlib.Path(p).parent).replace("/", ".") for p in protos}
    imports = re.compile(r"^from (%s) import " % "|".join(re.escape(p) for p in sorted(packages)),
                         re.MULTILINE)
    for folder in [target, *(p for p in target.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    for module in target.rglob("*_pb2*.py"):
        text = imports.sub(rf"from {STUB_PACKAGE}.\1 import ", module.read_text(encoding="utf-8"))
        if module.name.endswith("_pb2.py"):
            if text.count(DEFAULT_POOL) != 1 or BUILDER_IMPORT not in text:
                raise SystemExit(f"tconv-client: {module} does not read as expected ({DEFAULT_POOL} once, "
                                 f"{BUILDER_IMPORT!r}); "
                                 "the protoc output changed, update setup.py")
            text = text.replace(DEFAULT_POOL, "_tconv_pool.POOL").replace(
                BUILDER_IMPORT, f"{BUILDER_IMPORT}\nfrom tconv_client import _pool as _tconv_pool", 1)
        module.write_text(text, encoding="utf-8")


class BuildPyWithStubs(build_py):
    def run(self):
        # pip builds this folder in place and setuptools keeps build/lib between builds: start
        # from nothing, or a module deleted from src/ would stay in the next wheel.
        shutil.rmtree(pathlib.Path(self.build_lib, "tconv_client"), ignore_errors=True)
        super().run()
        generate_stubs(self.build_lib)


class SdistWithProtos(sdist):
    """Puts proto/ into the sdist, so a wheel can be built from it outside a checkout."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        only_protos = lambda folder, names: [  # noqa: E731
            n for n in names if not n.endswith(".proto") and not pathlib.Path(folder, n).is_dir()]
        shutil.copytree(proto_root(), pathlib.Path(base_dir, "proto"), ignore=only_protos,
                        dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithProtos})
