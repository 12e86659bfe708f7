import COpenSSL
import Foundation

/// Fernet (https://github.com/fernet/spec) over OpenSSL EVP, byte-compatible with Python's
/// `cryptography.fernet` and therefore with the reference cluster.
///
/// Token: URL-safe base64 of `0x80 ‖ timestamp (u64 BE) ‖ IV (16) ‖ AES-128-CBC(PKCS7(m)) ‖ HMAC-SHA256`.
public struct Fernet: Sendable {
    public let key: ClusterKey
    private let contexts: FernetContexts

    /// Bytes of a decoded token around the ciphertext: version, timestamp, IV and MAC.
    static let overhead = 1 + 8 + 16 + 32
    /// Python's cryptography refuses tokens from more than 60 s in the future when a TTL is given.
    public static let maxClockSkew: UInt64 = 60

    public init(key: ClusterKey) {
        self.key = key
        contexts = FernetContexts(encryptionKey: key.encryptionKey, signingKey: key.signingKey)
    }

    /// Length of the token text for `n` plaintext bytes: `4·ceil((57 + 16·(n/16 + 1))/3)`.
    public static func tokenLength(plaintextCount n: Int) -> Int {
        Base64.encodedLength(overhead + 16 * (n / 16 + 1))
    }

    /// Encrypts `plaintext`. `timestamp` and `iv` are for reproducible vectors only; by default
    /// they are the current time and 16 bytes from the CSPRNG.
    public func encrypt(_ plaintext: UnsafeRawBufferPointer, timestamp: UInt64? = nil, iv: [UInt8]? = nil) -> [UInt8] {
        Base64.encode(rawToken(plaintext, timestamp: timestamp, iv: iv), alphabet: .urlSafe)
    }

    /// Encrypts `plaintext` into `out`, which must hold `tokenLength(plaintextCount:)` bytes: the
    /// same token, written where it is sent from rather than returned in an array of its own.
    public func encrypt(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                        timestamp: UInt64? = nil, iv: [UInt8]? = nil) {
        let raw = rawToken(plaintext, timestamp: timestamp, iv: iv)
        raw.withUnsafeBytes { Base64.encode($0, into: out, alphabet: .urlSafe) }
    }

    /// The token's bytes before base64.
    private func rawToken(_ plaintext: UnsafeRawBufferPointer, timestamp: UInt64?, iv: [UInt8]?) -> [UInt8] {
        let ts = timestamp ?? UInt64(Date().timeIntervalSince1970)
        let ivBytes = iv ?? SecureRandom.bytes(16)
        precondition(ivBytes.count == 16, "a Fernet IV is 16 bytes")
        let ctLen = 16 * (plaintext.count / 16 + 1)
        let rawLen = Fernet.overhead + ctLen
        // Every byte is written below (header, ciphertext, MAC), so no zero-fill first.
        let raw = [UInt8](unsafeUninitializedCapacity: rawLen) { r, initialized in
            let p = r.baseAddress!
            p[0] = 0x80
            for i in 0..<8 { p[1 + i] = UInt8(truncatingIfNeeded: ts >> (56 - 8 * UInt64(i))) }
            for i in 0..<16 { p[9 + i] = ivBytes[i] }
            let ct = p + 25
            var outLen: Int32 = 0, finLen: Int32 = 0
            let ctx = contexts.cipher(encrypt: true, iv: p + 9)
            defer { EVP_CIPHER_CTX_free(ctx) }
            // EVP_EncryptUpdate takes an int length; feed large inputs in slices.
            var done = 0
            let src = plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self)
            var written = 0
            while done < plaintext.count {
                let n = min(plaintext.count - done, 1 << 30)
                precondition(EVP_EncryptUpdate(ctx, ct + written, &outLen, src! + done, Int32(n)) == 1)
                written += Int(outLen)
                done += n
            }
            precondition(EVP_EncryptFinal_ex(ctx, ct + written, &finLen) == 1)
            written += Int(finLen)
            precondition(written == ctLen)
            let macStart = 25 + ctLen
            contexts.mac(p, macStart, into: p + macStart)
            initialized = rawLen
        }
        return raw
    }

    public func encrypt<C: ContiguousBytes>(_ plaintext: C, timestamp: UInt64? = nil, iv: [UInt8]? = nil) -> [UInt8] {
        plaintext.withUnsafeBytes { encrypt($0, timestamp: timestamp, iv: iv) }
    }

    /// Decrypts a token. With `ttl`, a token older than `ttl` seconds (or dated more than 60 s in
    /// the future) is refused, as Python's Fernet does; the cluster link itself uses no TTL,
    /// because the reference never sets one.
    public func decrypt(_ token: UnsafeRawBufferPointer, ttl: UInt64? = nil, now: UInt64? = nil) throws -> [UInt8] {
        var raw = try Fernet.decode(token)
        let plain = try decryptInPlace(&raw, ttl: ttl, now: now)
        raw.removeSubrange(plain.upperBound...)
        raw.removeSubrange(..<plain.lowerBound)
        return raw
    }

    public func decrypt<C: ContiguousBytes>(_ token: C, ttl: UInt64? = nil, now: UInt64? = nil) throws -> [UInt8] {
        try token.withUnsafeBytes { try decrypt($0, ttl: ttl, now: now) }
    }

    /// A token's bytes decoded from their URL-safe base64, for `decryptInPlace`.
    public static func decode<C: ContiguousBytes>(_ token: C) throws -> [UInt8] {
        guard let raw = Base64.decode(token, alphabet: .urlSafe) else {
            throw Fernet.invalid("the token is not URL-safe base64")
        }
        return raw
    }

    /// Decrypts a token already decoded from its base64 (`raw`, as `Fernet.decode` gives it) in
    /// place, holding no second copy: for a tool that reads one
    /// large token, where the plaintext would otherwise double the memory. On return the plaintext
    /// is `raw[plaintextRange]`. The same checks as `decrypt`, in the same order: length, version,
    /// TTL, signature, then padding; nothing is decrypted unless the signature matches.
    public func decryptInPlace(_ raw: inout [UInt8], ttl: UInt64? = nil, now: UInt64? = nil) throws -> Range<Int> {
        guard raw.count >= Fernet.overhead + 16, (raw.count - Fernet.overhead) % 16 == 0 else {
            throw Fernet.invalid("the token has an impossible length (\(raw.count) bytes decoded)")
        }
        guard raw[0] == 0x80 else { throw Fernet.invalid("unknown token version 0x\(String(raw[0], radix: 16))") }
        let ts = raw[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if let ttl {
            let current = now ?? UInt64(Date().timeIntervalSince1970)
            if ts &+ ttl < current { throw Fernet.invalid("the token has expired (older than \(ttl) s)") }
            if current &+ Fernet.maxClockSkew < ts { throw Fernet.invalid("the token is dated in the future") }
        }
        let macStart = raw.count - 32
        let ctLen = macStart - 25
        let contexts = self.contexts
        let plainCount = try raw.withUnsafeMutableBufferPointer { r -> Int in
            let p = r.baseAddress!
            let macMatches = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { mac in
                contexts.mac(p, macStart, into: mac.baseAddress!)
                return CRYPTO_memcmp(mac.baseAddress, p + macStart, 32) == 0
            }
            guard macMatches else { throw Fernet.invalid("the token's signature does not match this key") }
            // Padding off: every update then writes exactly the blocks it reads, so input and
            // output stay the same location (which OpenSSL allows) and PKCS7 is checked here.
            // The IV (bytes 9–24) lies before the ciphertext and is only read.
            let ctx = contexts.cipher(encrypt: false, iv: p + 9)
            defer { EVP_CIPHER_CTX_free(ctx) }
            precondition(EVP_CIPHER_CTX_set_padding(ctx, 0) == 1)
            var done = 0
            while done < ctLen {
                let n = min(ctLen - done, 1 << 30)
                var outLen: Int32 = 0
                precondition(EVP_DecryptUpdate(ctx, p + 25 + done, &outLen, p + 25 + done, Int32(n)) == 1 && Int(outLen) == n)
                done += n
            }
            let pad = Int(p[25 + ctLen - 1])
            var padOK = pad >= 1 && pad <= 16
            if padOK { for k in 1...pad where p[25 + ctLen - k] != UInt8(pad) { padOK = false } }
            guard padOK else { throw Fernet.invalid("the token's padding is invalid") }
            return ctLen - pad
        }
        return 25..<(25 + plainCount)
    }

    /// The reference raises 3025 for any token that does not decrypt.
    static func invalid(_ why: String) -> ClusterError {
        ClusterError(code: 3025, "Could not decrypt message: \(why)", exit: .dataError)
    }
}
