// What /proc says of another process (the vault under test): resident memory, threads, CPU time.
// For the bench tools that report a process's cost (scale_bench, watch_bench).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace coffer::bench {

struct ProcStats {
  int64_t rss_kib = -1;    // VmRSS; -1 when unknown (no such process, or pid <= 0)
  int64_t threads = -1;    // Threads
  double cpu_seconds = 0;  // user + system time since the process started
};

inline ProcStats ReadProc(int pid) {
  ProcStats p;
  if (pid <= 0) return p;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) p.rss_kib = std::stoll(line.substr(6));
    if (line.rfind("Threads:", 0) == 0) p.threads = std::stoll(line.substr(8));
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t name_end = all.rfind(')');
  if (name_end == std::string::npos || name_end + 2 > all.size()) return p;
  // Fields after the command name (which may hold spaces): utime and stime are the 14th and
  // 15th of the line, the 12th and 13th after the name.
  std::istringstream rest(all.substr(name_end + 2));
  std::vector<std::string> f;
  for (std::string x; rest >> x;) f.push_back(x);
  if (f.size() > 12) {
    p.cpu_seconds = static_cast<double>(std::stoll(f[11]) + std::stoll(f[12])) /
                    static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return p;
}

}  // namespace coffer::bench
