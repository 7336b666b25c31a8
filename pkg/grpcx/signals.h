// Waiting for SIGTERM / SIGINT without signal handlers.
//
// Why: a signal handler may only do async-signal-safe work, so it cannot shut a gRPC server
// down. Instead the signals are blocked in every thread and one thread (normally main, after
// starting everything) takes them synchronously with sigwait(), then runs the graceful shutdown
// as ordinary code.
//
// Usage (main.cc):
//   int main(int argc, char** argv) {
//     coffer::grpcx::BlockShutdownSignals();  // first: threads created later inherit the mask
//     ... parse config, start servers ...
//     int sig = coffer::grpcx::WaitForShutdownSignal();
//     ... server.Shutdown(); admin.Stop(); ...
//   }
//
// Threading: BlockShutdownSignals() must run before any thread is created, or those threads may
// receive the signal and the default action (terminate) applies.
#pragma once

namespace coffer::grpcx {

// Blocks SIGTERM and SIGINT in the calling thread (and threads it creates afterwards).
void BlockShutdownSignals();

// Blocks the calling thread until SIGTERM or SIGINT arrives; returns the signal number.
// Also blocks the signals in this thread if the caller forgot to.
int WaitForShutdownSignal();

}  // namespace coffer::grpcx
