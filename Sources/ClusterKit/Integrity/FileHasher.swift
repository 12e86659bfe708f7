#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import Foundation

/// The BLAKE2b-512 algorithm fetched once from OpenSSL. OpenSSL 3 looks an algorithm up in its
/// provider tables on every `EVP_DigestInit_ex(ctx, EVP_blake2b512())`; with tens of thousands of
/// small files that lookup costs more than the hashing, so a scan fetches it once.
final class Blake2bAlgorithm: @unchecked Sendable {
    let md: OpaquePointer

    init() {
        guard let md = EVP_MD_fetch(nil, "BLAKE2B-512", nil) else {
            fatalError("OpenSSL has no BLAKE2B-512")
        }
        self.md = md
    }

    deinit { EVP_MD_free(md) }
}

/// Hashes whole files with BLAKE2b-512, reading with `read(2)` into one reusable buffer, so a
/// file is never held in memory. One per thread.
final class FileHasher {
    static let digestSize = 64
    private let algorithm: Blake2bAlgorithm
    private let ctx: OpaquePointer
    private let buffer: UnsafeMutableRawBufferPointer

    init(algorithm: Blake2bAlgorithm, bufferSize: Int = 256 * 1024) {
        self.algorithm = algorithm
        guard let c = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        ctx = c
        buffer = .allocate(byteCount: bufferSize, alignment: 64)
    }

    deinit {
        EVP_MD_CTX_free(ctx)
        buffer.deallocate()
    }

    /// Hashes what `fd` holds from its current offset to the end, writing the 64-byte digest to
    /// `out`. Returns the number of bytes read, or the errno of a failed read.
    func hash(fd: Int32, into out: UnsafeMutableRawPointer) -> Result<Int, Errno> {
        precondition(EVP_DigestInit_ex2(ctx, algorithm.md, nil) == 1, "EVP_DigestInit_ex2 failed")
        var total = 0
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Errno(errno))
            }
            if n == 0 { break }
            precondition(EVP_DigestUpdate(ctx, buffer.baseAddress, n) == 1, "EVP_DigestUpdate failed")
            total += n
        }
        var len: UInt32 = 0
        precondition(EVP_DigestFinal_ex(ctx, out.assumingMemoryBound(to: UInt8.self), &len) == 1, "EVP_DigestFinal_ex failed")
        return .success(total)
    }
}

/// An errno value as an `Error`.
struct Errno: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
    var description: String { errnoDescription(code) }
}

extension Hex {
    /// Lowercase hex of `count` bytes at `p`.
    static func encode(_ p: UnsafeRawPointer, count: Int) -> String {
        encode(UnsafeRawBufferPointer(start: p, count: count))
    }
}
