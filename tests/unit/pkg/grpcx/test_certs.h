// Throwaway PKI for TLS tests: a CA, a server certificate for localhost/127.0.0.1 and a client
// certificate, generated with OpenSSL at test time and written as PEM files to a temp folder.
#pragma once

#include <string>

namespace coffer::grpcx::testutil {

struct TestCerts {
  std::string dir;
  std::string ca_cert_file;
  std::string server_cert_file;
  std::string server_key_file;
  std::string client_cert_file;
  std::string client_key_file;
  std::string other_ca_cert_file;  // a CA that signed nothing we use
};

// Creates the files under a new directory in $TMPDIR (or /tmp). Aborts the test binary on an
// OpenSSL failure, which only a broken installation can cause.
TestCerts MakeTestCerts();

}  // namespace coffer::grpcx::testutil
