#include "tests/unit/pkg/grpcx/test_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace coffer::grpcx::testutil {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "test_certs: %s failed\n", what);
    std::abort();
  }
}

struct KeyAndCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  Check(ext != nullptr, "X509V3_EXT_conf_nid");
  Check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

// Issues a certificate for `cn`, signed by `issuer` (self-signed when null).
KeyAndCert Issue(const char* cn, const KeyAndCert* issuer, bool is_ca, const char* san,
                 long serial) {
  KeyAndCert out;
  out.key = EVP_EC_gen("P-256");
  Check(out.key != nullptr, "EVP_EC_gen");
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(out.cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), 24 * 3600);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert : out.cert;
  X509_set_issuer_name(out.cert, X509_get_subject_name(issuer_cert));
  AddExt(out.cert, issuer_cert, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (is_ca) AddExt(out.cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san != nullptr) AddExt(out.cert, issuer_cert, NID_subject_alt_name, san);
  Check(X509_sign(out.cert, issuer != nullptr ? issuer->key : out.key, EVP_sha256()) > 0,
        "X509_sign");
  return out;
}

void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  Check(f != nullptr, "fopen");
  if (cert != nullptr) Check(PEM_write_X509(f, cert) == 1, "PEM_write_X509");
  if (key != nullptr) {
    Check(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM_write_PrivateKey");
  }
  std::fclose(f);
}

void Free(KeyAndCert& kc) {
  X509_free(kc.cert);
  EVP_PKEY_free(kc.key);
}

}  // namespace

TestCerts MakeTestCerts() {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr ? tmp : "/tmp") + "/coffer-certs-XXXXXX";
  Check(mkdtemp(templ.data()) != nullptr, "mkdtemp");
  TestCerts certs;
  certs.dir = templ;
  certs.ca_cert_file = templ + "/ca.pem";
  certs.server_cert_file = templ + "/server.pem";
  certs.server_key_file = templ + "/server.key";
  certs.client_cert_file = templ + "/client.pem";
  certs.client_key_file = templ + "/client.key";
  certs.other_ca_cert_file = templ + "/other-ca.pem";

  KeyAndCert ca = Issue("coffer test ca", nullptr, true, nullptr, 1);
  KeyAndCert server = Issue("localhost", &ca, false, "DNS:localhost,IP:127.0.0.1", 2);
  KeyAndCert client = Issue("coffer-test-client", &ca, false, nullptr, 3);
  KeyAndCert other = Issue("other ca", nullptr, true, nullptr, 4);
  WritePem(certs.ca_cert_file, ca.cert, nullptr);
  WritePem(certs.server_cert_file, server.cert, nullptr);
  WritePem(certs.server_key_file, nullptr, server.key);
  WritePem(certs.client_cert_file, client.cert, nullptr);
  WritePem(certs.client_key_file, nullptr, client.key);
  WritePem(certs.other_ca_cert_file, other.cert, nullptr);
  for (KeyAndCert* kc : {&ca, &server, &client, &other}) Free(*kc);
  return certs;
}

}  // namespace coffer::grpcx::testutil
