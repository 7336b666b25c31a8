# bench_smoke: runs coffer-bench for ~3 s against its in-process Ping server and checks the JSON.
# Usage: cmake -DBENCH=<coffer-bench> -DOUT=<json file> -P smoke.cmake
execute_process(
  COMMAND ${BENCH} --target inproc-ping --channels 2 --inflight 4 --warmup 0.5 --duration 2.5
    --users 4 --out ${OUT}
  RESULT_VARIABLE rc TIMEOUT 15)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "coffer-bench exited with ${rc}")
endif()
file(READ ${OUT} doc)
string(JSON ops ERROR_VARIABLE err GET "${doc}" ops)
if(err)
  message(FATAL_ERROR "output is not the expected JSON: ${err}\n${doc}")
endif()
string(JSON errors GET "${doc}" errors)
string(JSON p99 GET "${doc}" latency_us p99)
if(NOT ops GREATER 0)
  message(FATAL_ERROR "no successful operations:\n${doc}")
endif()
if(NOT errors EQUAL 0)
  message(FATAL_ERROR "${errors} errors:\n${doc}")
endif()
message(STATUS "bench_smoke: ${ops} ops, p99 ${p99} us")
