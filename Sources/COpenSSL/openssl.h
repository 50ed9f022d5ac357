// OpenSSL's libcrypto (Debian: libssl-dev), for SHA-256 of weights and plugins.
#include <openssl/evp.h>
