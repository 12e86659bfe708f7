import COpenSSL
import Foundation

/// Streaming message digests over OpenSSL's EVP interface.
///
/// BLAKE2b-512 is the integrity hash of the reference (Python `hashlib.blake2b()` defaults: 64-byte
/// digest, no key); SHA-256 checks file transfers (`file_end` carries the raw 32-byte digest).
public struct Digest: ~Copyable {
    public enum Algorithm: Sendable {
        case blake2b512, sha256
        var md: OpaquePointer? {
            switch self {
            case .blake2b512: return EVP_blake2b512()
            case .sha256: return EVP_sha256()
            }
        }
        public var size: Int { self == .blake2b512 ? 64 : 32 }
    }

    private let ctx: OpaquePointer
    public let algorithm: Algorithm

    public init(_ algorithm: Algorithm) {
        self.algorithm = algorithm
        guard let c = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        ctx = c
        precondition(EVP_DigestInit_ex(ctx, algorithm.md, nil) == 1, "EVP_DigestInit_ex failed")
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(EVP_DigestUpdate(ctx, base, bytes.count) == 1, "EVP_DigestUpdate failed")
    }

    public mutating func update<C: ContiguousBytes>(_ bytes: C) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Finishes the digest. The value is consumed: a digest is computed once.
    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        out.withUnsafeMutableBufferPointer { p in
            precondition(EVP_DigestFinal_ex(ctx, p.baseAddress, &len) == 1, "EVP_DigestFinal_ex failed")
        }
        return Array(out[0..<Int(len)])
    }

    public static func hash<C: ContiguousBytes>(_ algorithm: Algorithm, _ bytes: C) -> [UInt8] {
        var d = Digest(algorithm)
        d.update(bytes)
        return d.finalize()
    }

    public static func blake2b512Hex<C: ContiguousBytes>(_ bytes: C) -> String {
        Hex.encode(hash(.blake2b512, bytes))
    }

    public static func sha256(_ bytes: some ContiguousBytes) -> [UInt8] { hash(.sha256, bytes) }

    public static func sha256Hex(_ bytes: some ContiguousBytes) -> String { Hex.encode(hash(.sha256, bytes)) }

    /// SHA-1, used only for the reference's global agent-group hash.
    public static func sha1Hex(_ bytes: some ContiguousBytes) -> String {
        bytes.withUnsafeBytes { raw in
            var out = [UInt8](repeating: 0, count: 20)
            var len: UInt32 = 0
            _ = out.withUnsafeMutableBufferPointer { p in
                EVP_Digest(raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), raw.count, p.baseAddress, &len, EVP_sha1(), nil)
            }
            return Hex.encode(out)
        }
    }
}
