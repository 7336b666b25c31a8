// LLVMFuzzerInitialize for the targets that parse protobuf (coffer_fuzz_target ... QUIET_PROTOBUF):
// protobuf logs a line for every string field that is not UTF-8, i.e. for most fuzz inputs, which
// would drown libFuzzer's output and slow every run; rejections are still asserted by the targets.
#include <google/protobuf/stubs/logging.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}
