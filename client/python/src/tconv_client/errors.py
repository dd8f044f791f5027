"""The one exception type of tconv-client."""
import grpc


class TconvError(Exception):
    """A failed call: `code` is the grpc.StatusCode (the server's, or gRPC's own such as
    UNAVAILABLE when no server answers), `message` its text. Arguments the client refuses before
    sending (a tensor that is not 4-D, a dtype that is not a real number) are INVALID_ARGUMENT
    too, so one `except TconvError` handles both."""

    def __init__(self, code, message):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @classmethod
    def from_rpc_error(cls, error):
        return cls(error.code(), error.details() or "")


def invalid_argument(message):
    return TconvError(grpc.StatusCode.INVALID_ARGUMENT, message)
