import COpenSSL

/// The OpenSSL state one Fernet key needs, prepared once: the AES-128 key schedules (encrypt
/// and decrypt) and the HMAC-SHA256 keyed state. Each message copies a prepared context.
///
/// OpenSSL 3 looks an algorithm up by name on every implicit use (`EVP_aes_128_cbc()` in an
/// init, the one-shot `HMAC()`), and for the small messages of the cluster link (a keepalive, an
/// acknowledgement) that look-up and the key set-up cost more than the cryptography itself.
/// The templates are only ever copied, never used, so any number of threads may share them.
final class FernetContexts: @unchecked Sendable {
    nonisolated(unsafe) static let cipher: OpaquePointer = EVP_CIPHER_fetch(nil, "AES-128-CBC", nil)!
    nonisolated(unsafe) static let mac: OpaquePointer = EVP_MAC_fetch(nil, "HMAC", nil)!

    private let encryptTemplate: OpaquePointer
    private let decryptTemplate: OpaquePointer
    private let macTemplate: OpaquePointer

    init(encryptionKey: [UInt8], signingKey: [UInt8]) {
        encryptTemplate = EVP_CIPHER_CTX_new()!
        decryptTemplate = EVP_CIPHER_CTX_new()!
        macTemplate = EVP_MAC_CTX_new(FernetContexts.mac)!
        encryptionKey.withUnsafeBufferPointer { k in
            precondition(EVP_EncryptInit_ex2(encryptTemplate, FernetContexts.cipher, k.baseAddress, nil, nil) == 1)
            precondition(EVP_DecryptInit_ex2(decryptTemplate, FernetContexts.cipher, k.baseAddress, nil, nil) == 1)
        }
        signingKey.withUnsafeBufferPointer { k in
            "SHA256".withCString { digest in
                var params = [OSSL_PARAM_construct_utf8_string("digest", UnsafeMutablePointer(mutating: digest), 0),
                              OSSL_PARAM_construct_end()]
                precondition(EVP_MAC_init(macTemplate, k.baseAddress, k.count, &params) == 1)
            }
        }
    }

    deinit {
        EVP_CIPHER_CTX_free(encryptTemplate)
        EVP_CIPHER_CTX_free(decryptTemplate)
        EVP_MAC_CTX_free(macTemplate)
    }

    /// A cipher context with the key set and `iv` (16 bytes), to encrypt or decrypt; the caller
    /// frees it.
    func cipher(encrypt: Bool, iv: UnsafePointer<UInt8>) -> OpaquePointer {
        let ctx = EVP_CIPHER_CTX_new()!
        precondition(EVP_CIPHER_CTX_copy(ctx, encrypt ? encryptTemplate : decryptTemplate) == 1)
        if encrypt {
            precondition(EVP_EncryptInit_ex2(ctx, nil, nil, iv, nil) == 1)
        } else {
            precondition(EVP_DecryptInit_ex2(ctx, nil, nil, iv, nil) == 1)
        }
        return ctx
    }

    /// HMAC-SHA256 of `count` bytes at `data` into the 32 bytes at `out`.
    func mac(_ data: UnsafePointer<UInt8>, _ count: Int, into out: UnsafeMutablePointer<UInt8>) {
        let ctx = EVP_MAC_CTX_dup(macTemplate)!
        defer { EVP_MAC_CTX_free(ctx) }
        var outLen = 0
        precondition(EVP_MAC_update(ctx, data, count) == 1)
        precondition(EVP_MAC_final(ctx, out, &outLen, 32) == 1 && outLen == 32)
    }
}
