// `tconv import MODEL`: serves the Conv2DTranspose layers of a model saved by Keras (.keras or
// .h5), on a server or into a model repository folder, all of them or none.
#ifndef TCONV_CLIENT_TOOL_IMPORT_COMMAND_H_
#define TCONV_CLIENT_TOOL_IMPORT_COMMAND_H_

#include <string>
#include <vector>

#include "subcommand.h"

namespace tconv::tool {

int RunImportCommand(const std::vector<std::string>& args);

inline constexpr Subcommand kImportCommand = {
    "import",
    "MODEL.keras|MODEL.h5 [--server=HOST:PORT | --repository=DIR] [--prefix=P] "
    "[--only=NAME,...] [--replace]",
    "serve the Conv2DTranspose layers of a saved Keras model (.keras or .h5), with its weights",
    RunImportCommand,
    R"(Reads a model saved by Keras — model.save("m.keras") (Keras 3, or tf-keras' native
format) or model.save("m.h5") (tf-keras, or Keras 3's legacy format); Sequential or
functional, nested models included — and creates every Conv2DTranspose layer in it under its
Keras layer name, with its exact weights and the Keras version that wrote the file (the
keras_version it records: 3.x computes with Keras 3's semantics, 2.x with Keras 2's). The
other layers (Dense, BatchNormalization, ...) are listed as skipped: they run elsewhere.

Everything is read and checked before anything is created; a failure on the server deletes
the layers this run created, so nothing is half-imported.

flags:
  --server=HOST:PORT     create the layers on this server (default 127.0.0.1:8001)
  --repository=DIR       instead, write them into this model repository folder (the format
                         tconv-server --model_repository reads), no server needed; a
                         server already running on it serves them after `tconv load`
  --prefix=P             serve layer NAME as P + NAME (default: no prefix)
  --only=NAME,...        import only these Conv2DTranspose layers (Keras names)
  --replace              replace layers of those names instead of refusing the import

examples:
  tconv import generator.keras --server=127.0.0.1:8001
  tconv import decoder.h5 --repository=./model_repository --prefix=cvae_ --replace
)"};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_IMPORT_COMMAND_H_
