// The `coffer_build_info` gauge: which version of which service a replica runs.
//
// Why: dashboards join other series on it (`* on(instance) group_left(version)`), and a rollout
// shows as replicas moving from one label set to another. The value is always 1.
//
// Threading: call once at startup; the registry is thread-safe.
#pragma once

#include <prometheus/registry.h>

#include <string>

namespace coffer::metrics {

// Exports coffer_build_info{service,version,commit,build_date} 1 from coffer::version.
void RegisterBuildInfo(prometheus::Registry& registry, const std::string& service);

}  // namespace coffer::metrics
