"""Wire compatibility of tconv's proto/inference with Triton's own definitions.

Compiles proto/inference/grpc_service.proto (with its imports) with protoc and compares every
message field (name, number, type, label, message/enum type) and every enum value that tconv
declares in package `inference` against the descriptors that ship inside the pinned tritonclient
package. tconv declares a subset; anything it declares must be what Triton's clients expect.
Usage: wire_compat_test.py PROTO_DIR
"""
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2
from tritonclient.grpc import model_config_pb2, service_pb2


def index(file_protos):
    """Maps 'Message.Nested' / 'enum:Message.Enum' names to their descriptor protos."""
    found = {}

    def walk(messages, enums, prefix):
        for e in enums:
            found["enum:" + prefix + e.name] = e
        for m in messages:
            found[prefix + m.name] = m
            walk(m.nested_type, m.enum_type, prefix + m.name + ".")

    for f in file_protos:
        walk(f.message_type, f.enum_type, "")
    return found


def field_key(field):
    return (field.number, field.type, field.label, field.type_name.rsplit(".", 1)[-1])


def main():
    proto_dir = sys.argv[1]
    with tempfile.NamedTemporaryFile(suffix=".pb") as out:
        subprocess.check_call(["protoc", "-I", proto_dir, "--include_imports", "-o", out.name,
                               "inference/grpc_service.proto"])
        ours = descriptor_pb2.FileDescriptorSet()
        ours.ParseFromString(out.read())
    triton_files = []
    for module in (model_config_pb2, service_pb2):
        file_proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file_proto)
        triton_files.append(file_proto)
    theirs = index(triton_files)
    mine = index([f for f in ours.file if f.package == "inference"])

    compared, problems = 0, []
    for name, ours_desc in sorted(mine.items()):
        their_desc = theirs.get(name)
        if their_desc is None:
            problems.append(f"{name}: not in Triton's definitions")
            continue
        if name.startswith("enum:"):
            values = {v.name: v.number for v in their_desc.value}
            for v in ours_desc.value:
                compared += 1
                if values.get(v.name) != v.number:
                    problems.append(f"{name}.{v.name} = {v.number}, Triton: {values.get(v.name)}")
            continue
        fields = {f.name: field_key(f) for f in their_desc.field}
        for f in ours_desc.field:
            compared += 1
            if fields.get(f.name) != field_key(f):
                problems.append(f"{name}.{f.name} (number, type, label, type name) = "
                                f"{field_key(f)}, Triton: {fields.get(f.name)}")
    # The service: every RPC tconv declares exists in Triton's with the same types.
    their_service = {m.name: m for s in triton_files[1].service for m in s.method}
    for f in ours.file:
        for service in f.service:
            if f.package != "inference":
                continue
            for method in service.method:
                compared += 1
                theirs_m = their_service.get(method.name)
                if theirs_m is None or (theirs_m.input_type, theirs_m.output_type,
                                        theirs_m.client_streaming, theirs_m.server_streaming) != (
                        method.input_type, method.output_type, method.client_streaming,
                        method.server_streaming):
                    problems.append(f"rpc {method.name} differs from Triton's")
    for p in problems:
        print("MISMATCH", p)
    print(f"wire compatibility: {compared} fields, enum values and RPCs compared with tritonclient")
    print(f"{compared - len(problems)} passed, {len(problems)} failed")
    return 1 if problems or compared == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
