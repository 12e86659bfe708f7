/// Eight bytes at a time: the word tests the JSON hot paths use to skip runs of bytes that need
/// nothing done (SWAR). Each test says whether *some* byte of a word is of a kind; a word that
/// fails one is then read byte by byte, so a test may answer yes too often but never no wrongly.
enum ByteWords {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The high bit of each byte that is zero, and of no other (exact).
    @inline(__always)
    static func zeroBytes(_ w: UInt64) -> UInt64 {
        let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        return ~(((w & low) &+ low) | w | low)
    }

    /// The high bit of each byte that is a control character, a quote or a backslash, and of no
    /// other: the first such byte is at `mask.trailingZeroBitCount / 8` (bytes are loaded little-endian).
    @inline(__always)
    static func jsonSpecialBytes(_ w: UInt64) -> UInt64 {
        zeroBytes(w & (ones &* 0xE0)) | zeroBytes(w ^ (ones &* 0x22)) | zeroBytes(w ^ (ones &* 0x5C))
    }

    /// Some byte is not ASCII.
    @inline(__always)
    static func hasHighBit(_ w: UInt64) -> Bool { w & highs != 0 }

    /// Whether every byte is ASCII.
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let i = skip(bytes, from: 0) { !hasHighBit($0) }
        return bytes[i...].allSatisfy { $0 < 0x80 }
    }

    /// The first index from `i` of a byte a JSON string cannot hold as it is (a control
    /// character, a quote or a backslash), or `bytes.count`: eight bytes at a time while eight
    /// remain. ORs every byte passed over into `high`, so that `hasHighBit(high)` tells whether
    /// any of them was not ASCII.
    @inline(__always)
    static func plainRun(_ bytes: UnsafeRawBufferPointer, from i: Int, high: inout UInt64) -> Int {
        var i = i
        let n = bytes.count
        while i < n {
            if n - i >= 8 {
                let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let special = jsonSpecialBytes(w)
                if special == 0 {
                    high |= w
                    i += 8
                    continue
                }
                let before = special.trailingZeroBitCount & ~7
                high |= w & ((1 << UInt64(before)) &- 1)
                return i + before >> 3
            }
            let b = bytes[i]
            guard b >= 0x20 && b != 0x22 && b != 0x5C else { return i }
            high |= UInt64(b)
            i += 1
        }
        return i
    }

    /// The first index from `i` whose word of eight bytes (read while eight remain) fails `test`;
    /// the bytes before it all pass.
    @inline(__always)
    static func skip(_ bytes: UnsafeRawBufferPointer, from i: Int, while test: (UInt64) -> Bool) -> Int {
        var i = i
        let n = bytes.count
        while n - i >= 8 {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            guard test(w) else { return i }
            i += 8
        }
        return i
    }
}
