"""The descriptor pool tconv-client's generated stubs register into (setup.py points them here).

Not protobuf's default pool: tritonclient (and any other OIP client) registers the same
`inference.*` messages from its own grpc_service.proto there, and the default pool refuses a
second definition of a name ("duplicate symbol 'inference.DataType'"), so the two packages could
not be imported into one process. Every well-known type a .proto in proto/ may import is added
first (in dependency order), so a new import there needs no change here.
"""
from google.protobuf import (any_pb2, api_pb2, descriptor_pool, duration_pb2, empty_pb2,
                             field_mask_pb2, source_context_pb2, struct_pb2, timestamp_pb2,
                             type_pb2, wrappers_pb2)

POOL = descriptor_pool.DescriptorPool()
for _well_known in (any_pb2, source_context_pb2, type_pb2, api_pb2, duration_pb2, empty_pb2,
                    field_mask_pb2, struct_pb2, timestamp_pb2, wrappers_pb2):
    POOL.AddSerializedFile(_well_known.DESCRIPTOR.serialized_pb)
