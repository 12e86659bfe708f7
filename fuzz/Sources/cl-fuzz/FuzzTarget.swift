import Foundation

/// One libFuzzer target: a parser that takes bytes from outside, and the properties it must keep.
/// A crash, a sanitizer report or a broken `require` is a finding.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let run: @Sendable (UnsafeRawBufferPointer) -> Void
}

/// A property every input must keep; a violation aborts, which libFuzzer reports as a crash and
/// saves the input for.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        writeError("cl-fuzz: property violated: \(message())\n")
        abort()
    }
}

/// Input bytes as a little program: a few leading bytes choose options, the rest is the data.
struct FuzzInput {
    private(set) var bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Takes one byte (0 when the input is exhausted).
    mutating func byte() -> UInt8 {
        guard let first = bytes.first else { return 0 }
        bytes = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
        return first
    }

    /// Cuts `data` into slices whose sizes follow `seed`, to feed incremental parsers in every
    /// kind of awkward piece.
    static func slices(_ data: UnsafeRawBufferPointer, seed: UInt8) -> [UnsafeRawBufferPointer] {
        var out: [UnsafeRawBufferPointer] = []
        var at = 0
        var state = UInt32(seed) &* 2_654_435_761 | 1
        while at < data.count {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            let n = seed == 0 ? data.count : Int(state % 97) + 1
            let end = min(data.count, at + n)
            out.append(UnsafeRawBufferPointer(rebasing: data[at..<end]))
            at = end
        }
        return out
    }
}

/// Writes a line to stderr.
func writeError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}
