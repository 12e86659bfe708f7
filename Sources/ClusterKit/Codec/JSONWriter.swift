/// Writes JSON values.
///
/// `.python` reproduces Python's `json.dumps(obj)` exactly: `", "` and `": "` separators,
/// non-ASCII escaped as lowercase `\uXXXX` (surrogate pairs above the BMP), floats in `repr`
/// form (Swift's shortest round-trip `description` has the same digits and thresholds). The
/// reference writes snapshots, classifications and agent chunks this way, so a compatible node
/// writes them the same. `.compact` is the form for JSON Lines and our own payloads.
public struct JSONWriter: Sendable {
    public enum Style: Sendable { case compact, spaced }
    public var style: Style
    public var ensureASCII: Bool
    /// Pretty-print with this many spaces per level; nil writes one line.
    public var indent: Int?

    public init(style: Style = .compact, ensureASCII: Bool = false, indent: Int? = nil) {
        self.style = style
        self.ensureASCII = ensureASCII
        self.indent = indent
    }

    /// Python's `json.dumps` defaults.
    public static let python = JSONWriter(style: .spaced, ensureASCII: true)
    /// Python's `json.dumps(..., separators=(",", ":"))`, as the reference writes wazuh-db commands.
    public static let pythonCompact = JSONWriter(style: .compact, ensureASCII: true)
    /// One line, UTF-8 as is: JSON Lines and our own messages.
    public static let compact = JSONWriter()
    /// Two-space indentation for people.
    public static let pretty = JSONWriter(style: .spaced, ensureASCII: false, indent: 2)

    public func bytes(_ value: JSON) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(256)
        write(value, into: &out, level: 0)
        return out
    }

    public func string(_ value: JSON) -> String { String(decoding: bytes(value), as: UTF8.self) }

    public func write(_ value: JSON, into out: inout [UInt8]) { write(value, into: &out, level: 0) }

    private func newline(_ out: inout [UInt8], _ level: Int) {
        guard let indent else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(0x20), count: indent * level))
    }

    private func write(_ value: JSON, into out: inout [UInt8], level: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): JSONWriter.writeDouble(d, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            if a.isEmpty { out.append(UInt8(ascii: "]")); return }
            for (i, v) in a.enumerated() {
                if i > 0 { itemSeparator(&out) }
                newline(&out, level + 1)
                write(v, into: &out, level: level + 1)
            }
            newline(&out, level)
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            if o.isEmpty { out.append(UInt8(ascii: "}")); return }
            var first = true
            o.forEachEntry { k, v in
                if !first { itemSeparator(&out) }
                first = false
                newline(&out, level + 1)
                writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                if style == .spaced { out.append(0x20) }
                write(v, into: &out, level: level + 1)
            }
            newline(&out, level)
            out.append(UInt8(ascii: "}"))
        }
    }

    private func itemSeparator(_ out: inout [UInt8]) {
        out.append(UInt8(ascii: ","))
        if style == .spaced && indent == nil { out.append(0x20) }
    }

    static func writeDouble(_ d: Double, into out: inout [UInt8]) {
        // JSON has no NaN or infinity; Python would write NaN/Infinity, which no JSON parser
        // accepts, so we write null instead.
        guard d.isFinite else { out.append(contentsOf: "null".utf8); return }
        out.append(contentsOf: d.description.utf8)
    }

    /// Strings go through `JSONEscaping`, which copies runs that need no escape in one append.
    func writeString(_ s: String, into out: inout [UInt8]) {
        if ensureASCII {
            JSONEscaping.appendPython(s, into: &out)
        } else {
            JSONEscaping.appendCompact(s, into: &out)
        }
    }
}
