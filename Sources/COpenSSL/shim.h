#ifndef CLUSTERTOOLS_COPENSSL_SHIM_H
#define CLUSTERTOOLS_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#endif
