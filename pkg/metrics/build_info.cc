#include "pkg/metrics/build_info.h"

#include <prometheus/gauge.h>

#include "pkg/version/version.h"

namespace coffer::metrics {

void RegisterBuildInfo(prometheus::Registry& registry, const std::string& service) {
  prometheus::BuildGauge()
      .Name("coffer_build_info")
      .Help("Build of the running binary; always 1")
      .Register(registry)
      .Add({{"service", service},
            {"version", std::string(coffer::version::Version())},
            {"commit", std::string(coffer::version::GitCommit())},
            {"build_date", std::string(coffer::version::BuildDate())}})
      .Set(1);
}

}  // namespace coffer::metrics
