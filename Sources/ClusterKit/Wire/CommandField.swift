/// The 12-byte command field of a frame header.
///
/// Sender: `name ‖ ' ' ‖ '-' × (11 − len(name))`; in a divided message the last byte becomes `d`
/// in every fragment but the final one, which gets `-`. Receiver: the flag is byte 12 and the name
/// is bytes 1–11 cut at the first space (dashes are *not* stripped), exactly as the reference reads it.
public enum CommandField {
    public static let size = 12
    public static let maxNameLength = 11
    public static let dividedFlag = UInt8(ascii: "d")

    /// Checks a command name we are about to send. A name may carry trailing spaces (the reference
    /// answers `new_file` with `ok ` and `echo-c` with `ok-m `), but no other space and nothing
    /// outside printable ASCII.
    public static func validate(_ name: [UInt8]) throws {
        guard !name.isEmpty else { throw ClusterError.usage("a command name cannot be empty") }
        guard name.count <= maxNameLength else {
            throw ClusterError(code: 3024, "Length of command exceeds limit defined in wazuh.cluster.common.Handler.cmd_len: \(String(decoding: name, as: UTF8.self)) is \(name.count) bytes, at most 11", exit: .usage)
        }
        let trimmed = name.prefix { $0 != 0x20 }
        guard !trimmed.isEmpty, name[trimmed.count...].allSatisfy({ $0 == 0x20 }) else {
            throw ClusterError.usage("a command name cannot contain a space: '\(String(decoding: name, as: UTF8.self))'")
        }
        guard trimmed.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ClusterError.usage("a command name must be printable ASCII")
        }
    }

    /// The field as sent in an undivided message.
    public static func encode(_ name: [UInt8]) -> [UInt8] {
        var f = name
        f.append(0x20)
        while f.count < size { f.append(UInt8(ascii: "-")) }
        return Array(f.prefix(size))
    }

    /// The field for one fragment of a divided message.
    public static func encode(_ name: [UInt8], finalFragment: Bool) -> [UInt8] {
        var f = encode(name)
        f[size - 1] = finalFragment ? UInt8(ascii: "-") : dividedFlag
        return f
    }

    /// Reads a received field: the name (bytes 1–11 up to the first space) and whether the divide
    /// flag is set.
    public static func decode(_ field: UnsafeRawBufferPointer) -> (name: [UInt8], divided: Bool) {
        precondition(field.count == size)
        let divided = field[size - 1] == dividedFlag
        var name = [UInt8]()
        for i in 0..<(size - 1) {
            if field[i] == 0x20 { break }
            name.append(field[i])
        }
        return (name, divided)
    }
}

/// Python's `repr()` of a bytes object, as the reference prints command names in its
/// `unknown command 'b'...''` reply.
public func pythonBytesRepr(_ bytes: [UInt8]) -> String {
    let useDouble = bytes.contains(0x27) && !bytes.contains(0x22)
    let quote: UInt8 = useDouble ? 0x22 : 0x27
    var s = "b" + String(UnicodeScalar(quote))
    for b in bytes {
        switch b {
        case 0x5C: s += "\\\\"
        case quote: s += "\\" + String(UnicodeScalar(quote))
        case 0x09: s += "\\t"
        case 0x0A: s += "\\n"
        case 0x0D: s += "\\r"
        case 0x20..<0x7F: s += String(UnicodeScalar(b))
        default:
            let h = String(b, radix: 16)
            s += "\\x" + (h.count == 1 ? "0" + h : h)
        }
    }
    return s + String(UnicodeScalar(quote))
}
