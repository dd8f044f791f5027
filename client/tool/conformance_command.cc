#include "conformance_command.h"

#include <iostream>
#include <memory>

#include "conformance/conformance.h"
#include "conformance/kernel_backend.h"
#include "flags.h"
#include "server_backend.h"
#include "tconv/kernel/compute_pool.h"

namespace tconv::tool {

int RunConformanceCommand(const std::vector<std::string>& args) {
  static constexpr FlagSpec kFlags[] = {{"impl"},         {"threads"},     {"server"},
                                        {"timeout"},      {"tls_ca_file"}, {"tls_cert_file"},
                                        {"tls_key_file"}, {"token_file"}};
  absl::StatusOr<Flags> flags = Flags::Parse(args, kFlags);
  if (!flags.ok()) {
    std::cerr << "tconv conformance: " << flags.status().message() << "\n";
    return kExitUsage;
  }
  if (flags->Has("server") && !flags->positional().empty()) return RunServerConformance(*flags);
  const std::string impl = flags->Get("impl").value_or("fast");
  if (impl != "fast" && impl != "reference") {
    std::cerr << "tconv conformance: --impl must be fast or reference, got \"" << impl << "\"\n";
    return kExitUsage;
  }
  absl::StatusOr<int64_t> threads = flags->GetInt("threads", 0, 0, 1024);
  if (!threads.ok()) {
    std::cerr << "tconv conformance: " << threads.status().message() << "\n";
    return kExitUsage;
  }
  if (flags->positional().empty()) {
    std::cerr << "usage: tconv conformance " << kConformanceCommand.usage << "\n";
    return kExitUsage;
  }
  ComputePool::Options pool_options;
  pool_options.threads = static_cast<int>(*threads);
  absl::StatusOr<std::unique_ptr<ComputePool>> pool = ComputePool::Create(pool_options);
  if (!pool.ok()) {
    std::cerr << "tconv conformance: " << pool.status().message() << "\n";
    return kExitUsage;
  }
  KernelBackend backend(impl == "fast" ? Implementation::kFast : Implementation::kReference,
                        **pool);
  const ConformanceTotals totals = RunConformance(flags->positional(), backend, std::cout);
  return totals.failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace tconv::tool
