// OpenSSL (Debian: libssl-dev): libcrypto for SHA-256 of weights and plugins; libssl for TLS to
// Redis (Sources/RedisState/RedisTLSTransport.swift).
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

// Macros Swift does not import.
static inline int recsys_ssl_ctx_min_tls12(SSL_CTX *context) {
  return (int)SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
}
static inline int recsys_ssl_set_sni(SSL *ssl, const char *host) {
  return (int)SSL_set_tlsext_host_name(ssl, host);
}
