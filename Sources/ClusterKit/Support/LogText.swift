/// Text a peer chose, made safe to put in a log line.
public enum LogText {
    /// At most `max` bytes of `s` with control characters escaped, then the full length when
    /// something was cut.
    ///
    /// A peer's command name, path or payload can be megabytes long or hold a newline that would
    /// forge a log line of its own; what reaches the log is bounded and always one line.
    public static func truncated(_ s: String, max: Int = 128) -> String {
        var out = ""
        var used = 0
        var cut = false
        for scalar in s.unicodeScalars {
            let piece: String
            switch scalar {
            case "\n": piece = "\\n"
            case "\r": piece = "\\r"
            case "\t": piece = "\\t"
            case "\\": piece = "\\\\"
            default:
                // C0, DEL and C1 controls, and the Unicode line and paragraph separators.
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    piece = "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    piece = String(scalar)
                }
            }
            let n = piece.utf8.count
            if used + n > max { cut = true; break }
            out += piece
            used += n
        }
        return cut ? out + "... (\(s.utf8.count) bytes)" : out
    }
}
