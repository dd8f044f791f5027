"""The descriptor pool tconv-client's generated stubs register into (setup.py points them here).

Not protobuf's default pool: tritonclient (and any other OIP client) registers the same
`inference.*` messages from its own grpc_service.proto there, and the default pool refuses a
second definition of a name ("duplicate symbol 'inference.DataType'"), so the two packages could
not be imported into one process. The well-known types the stubs use are added first.
"""
from google.protobuf import descriptor_pool, duration_pb2, timestamp_pb2

POOL = descriptor_pool.DescriptorPool()
for _well_known in (duration_pb2, timestamp_pb2):
    POOL.AddSerializedFile(_well_known.DESCRIPTOR.serialized_pb)
