import COpenSSL

/// The BLAKE2b-512 of every container entry, taken as its bytes stream past on their way to
/// another consumer (the staging area), so that an apply can check each entry against the hash
/// its metadata names before anything is renamed into place. The reference never makes that
/// check; a container whose entry does not match is refused whole.
///
/// Holds 64 bytes and an index slot per entry; the entries' bytes are never kept.
final class EntryDigests: ContainerEntryConsumer {
    private let inner: ContainerEntryConsumer
    private let algorithm = Blake2bAlgorithm()
    private let ctx: OpaquePointer
    /// Entry path → its number in container order; the digests, 64 bytes each in that order.
    private var numbers: [String: Int] = [:]
    private var digests: [UInt8] = []

    init(forwardingTo inner: ContainerEntryConsumer) {
        self.inner = inner
        guard let c = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        ctx = c
    }

    deinit { EVP_MD_CTX_free(ctx) }

    func beginEntry(path: String) throws {
        numbers[path] = numbers.count
        precondition(EVP_DigestInit_ex2(ctx, algorithm.md, nil) == 1, "EVP_DigestInit_ex2 failed")
        try inner.beginEntry(path: path)
    }

    func entryData(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count > 0 {
            precondition(EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count) == 1, "EVP_DigestUpdate failed")
        }
        try inner.entryData(bytes)
    }

    func endEntry() throws {
        let start = digests.count
        digests.append(contentsOf: repeatElement(0, count: FileHasher.digestSize))
        var len: UInt32 = 0
        digests.withUnsafeMutableBufferPointer { b in
            precondition(EVP_DigestFinal_ex(ctx, b.baseAddress! + start, &len) == 1, "EVP_DigestFinal_ex failed")
        }
        try inner.endEntry()
    }

    /// The lowercase hex digest of the entry `path`, nil when the container had no such entry.
    func hex(of path: String) -> String? {
        guard let n = numbers[path] else { return nil }
        return digests.withUnsafeBytes { Hex.encode($0.baseAddress! + n * FileHasher.digestSize, count: FileHasher.digestSize) }
    }

    /// Checks every entry the classification writes (missing and shared) against its record's
    /// hash; throws, naming the first few that differ, when any does.
    func verify(_ classification: Classification) throws {
        var mismatched = [String]()
        var count = 0
        for group in [classification.missing, classification.shared] {
            for (path, record) in group {
                guard let actual = hex(of: path), actual != record.hash.lowercased() else { continue }
                count += 1
                if mismatched.count < 3 {
                    mismatched.append("\(SafePath.quoted(path)) (metadata \(record.hash.prefix(16))…, content \(actual.prefix(16))…)")
                }
            }
        }
        guard count == 0 else {
            throw ClusterError.badData("container: \(count) entries do not match the BLAKE2b-512 hash in their metadata: "
                + mismatched.joined(separator: ", ") + (count > 3 ? ", …" : "") + "; nothing was applied")
        }
    }
}
