// TLS credentials from PEM files (checked with OpenSSL) and the admin bearer-token check.
// Exceptions (std::bad_alloc) propagate to rs_server_start's handler.
#include "server_credentials.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <strings.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace recsys_shim {

namespace {

bool IsSet(const char *text) { return text != nullptr && text[0] != '\0'; }

bool ReadFile(const char *path, const char *what, std::string *contents, std::string *error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *error = std::string("cannot read the ") + what + " " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream buffer;
  buffer << file.rdbuf();
  *contents = buffer.str();
  return true;
}

// Never prompts on a terminal for a passphrase: an encrypted key simply fails to load.
int NoPassphrase(char *, int, int, void *) { return 0; }

struct OpenSSLDeleter {
  void operator()(BIO *bio) const { BIO_free(bio); }
  void operator()(X509 *certificate) const { X509_free(certificate); }
  void operator()(EVP_PKEY *key) const { EVP_PKEY_free(key); }
};
template <typename Object>
using Owned = std::unique_ptr<Object, OpenSSLDeleter>;

Owned<BIO> MemoryBio(const std::string &pem) {
  return Owned<BIO>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The number of PEM certificates in `pem` (0 if the first is not one); leaves OpenSSL's error
// queue empty, as grpc reads it on its own threads' handshakes.
int CountCertificates(const std::string &pem) {
  Owned<BIO> bio = MemoryBio(pem);
  int count = 0;
  while (bio != nullptr) {
    Owned<X509> certificate(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (certificate == nullptr) break;
    ++count;
  }
  ERR_clear_error();
  return count;
}

// Checks the first certificate of `chain` belongs to `key`.
bool CheckKeyPair(const std::string &chain, const std::string &key, const char *chain_path, const char *key_path,
                  std::string *error) {
  Owned<BIO> chain_bio = MemoryBio(chain);
  Owned<BIO> key_bio = MemoryBio(key);
  Owned<X509> leaf(chain_bio == nullptr ? nullptr : PEM_read_bio_X509(chain_bio.get(), nullptr, NoPassphrase, nullptr));
  Owned<EVP_PKEY> private_key(key_bio == nullptr ? nullptr
                                                 : PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  bool ok = false;
  if (leaf == nullptr) {
    *error = std::string("the TLS certificate file ") + chain_path + " holds no PEM certificate";
  } else if (private_key == nullptr) {
    *error = std::string("the TLS key file ") + key_path +
             " holds no PEM private key (an encrypted key needs a passphrase the sidecar does not take)";
  } else if (X509_check_private_key(leaf.get(), private_key.get()) != 1) {
    *error = std::string("the TLS key ") + key_path + " does not belong to the certificate " + chain_path;
  } else {
    ok = true;
  }
  ERR_clear_error();
  return ok;
}

std::array<unsigned char, 32> Sha256(const char *data, size_t length) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char *>(data), length, digest.data());
  return digest;
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const rs_server_options &options, std::string *error) {
  const bool has_certificate = IsSet(options.tls_certificate_chain_path);
  const bool has_key = IsSet(options.tls_private_key_path);
  const bool has_client_ca = IsSet(options.tls_client_ca_path);
  if (!has_certificate) {
    if (has_key || has_client_ca || options.tls_require_client_certificate) {
      *error = "a TLS key, client CA or required client certificate needs a TLS certificate too";
      return nullptr;
    }
    return grpc::InsecureServerCredentials();
  }
  if (!has_key) {
    *error = "a TLS certificate needs its private key too";
    return nullptr;
  }
  if (options.tls_require_client_certificate && !has_client_ca) {
    *error = "requiring client certificates needs a client CA to check them against";
    return nullptr;
  }

  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  if (!ReadFile(options.tls_certificate_chain_path, "TLS certificate file", &pair.cert_chain, error)) return nullptr;
  if (!ReadFile(options.tls_private_key_path, "TLS key file", &pair.private_key, error)) return nullptr;
  if (!CheckKeyPair(pair.cert_chain, pair.private_key, options.tls_certificate_chain_path,
                    options.tls_private_key_path, error)) {
    return nullptr;
  }

  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (has_client_ca) {
    if (!ReadFile(options.tls_client_ca_path, "TLS client CA file", &ssl.pem_root_certs, error)) return nullptr;
    if (CountCertificates(ssl.pem_root_certs) == 0) {
      *error = std::string("the TLS client CA file ") + options.tls_client_ca_path + " holds no PEM certificate";
      return nullptr;
    }
    // Without the requirement a client may come without a certificate, but one it presents
    // must still chain to the CA.
    ssl.client_certificate_request = options.tls_require_client_certificate
                                         ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                         : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(ssl);
}

BearerToken::BearerToken(const std::string &token) : required_(!token.empty()) {
  if (required_) digest_ = Sha256(token.data(), token.size());
}

bool BearerToken::Admits(const grpc::CallbackServerContext &context) const {
  if (!required_) return true;
  const auto &metadata = context.client_metadata();
  const auto values = metadata.equal_range("authorization");
  // None, or several (which one would count?): refused.
  if (values.first == values.second || std::next(values.first) != values.second) return false;
  const char *value = values.first->second.data();
  const size_t length = values.first->second.size();
  // RFC 6750: "Bearer" is case-insensitive, then one or more spaces, then the token.
  static constexpr size_t kSchemeLength = 6;
  if (length <= kSchemeLength || strncasecmp(value, "bearer", kSchemeLength) != 0 || value[kSchemeLength] != ' ') {
    return false;
  }
  size_t start = kSchemeLength;
  while (start < length && value[start] == ' ') ++start;
  const std::array<unsigned char, 32> presented = Sha256(value + start, length - start);
  return CRYPTO_memcmp(presented.data(), digest_.data(), digest_.size()) == 0;
}

}  // namespace recsys_shim
