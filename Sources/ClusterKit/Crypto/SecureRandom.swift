import COpenSSL

/// The CSPRNG (OpenSSL's RAND_bytes): IVs, keys, string ids, counters.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        fill(&out)
        return out
    }

    public static func fill(_ buffer: inout [UInt8]) {
        guard !buffer.isEmpty else { return }
        let rc = buffer.withUnsafeMutableBytes { RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32($0.count)) }
        // RAND_bytes only fails when the generator cannot be seeded; carrying on would mean
        // predictable IVs and keys, so this is fatal by design.
        precondition(rc == 1, "OpenSSL RAND_bytes failed: the system random generator is unavailable")
    }

    public static func uint32() -> UInt32 {
        let b = bytes(4)
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }

    public static func uint64() -> UInt64 {
        let b = bytes(8)
        return b.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A uniformly random integer in 0..<bound.
    public static func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let v = uint64()
            if v < limit { return v % bound }
        }
    }

    /// A random version-4 UUID in the canonical 36-character form (the reference's task ids).
    public static func uuid4() -> String {
        var b = bytes(16)
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        let h = Hex.encode(b)
        let u = Array(h.utf8)
        func part(_ r: Range<Int>) -> String { String(decoding: u[r], as: UTF8.self) }
        return "\(part(0..<8))-\(part(8..<12))-\(part(12..<16))-\(part(16..<20))-\(part(20..<32))"
    }
}
