// Listener credentials and the admin bearer token; private to the shim.
#ifndef RECSYS_SHIM_SERVER_CREDENTIALS_H
#define RECSYS_SHIM_SERVER_CREDENTIALS_H

#include <grpcpp/grpcpp.h>

#include <array>
#include <memory>
#include <string>

#include "recsys_shim.h"

namespace recsys_shim {

// Plaintext without a certificate; otherwise TLS (and mTLS with a client CA) from the PEM
// files of `options`. The files are read and checked with OpenSSL first, so a bad file fails
// start with a message that names it, not as an address grpc cannot bind. Null and `*error`
// on failure.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const rs_server_options &options, std::string *error);

// A bearer token kept as its SHA-256: comparing digests takes the same time whatever the
// presented value is, its length included.
class BearerToken final {
 public:
  // An empty token requires nothing.
  explicit BearerToken(const std::string &token);

  bool required() const { return required_; }
  // Whether `authorization` metadata (exactly one value) is "Bearer <the token>".
  bool Admits(const grpc::CallbackServerContext &context) const;

 private:
  bool required_;
  std::array<unsigned char, 32> digest_{};
};

}  // namespace recsys_shim

#endif  // RECSYS_SHIM_SERVER_CREDENTIALS_H
