#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the end of a node's cluster log and parses its lines, in either layout the nodes
/// write: the reference's text (`2024/10/28 10:00:00 INFO: [tag] [subtag] message`) or JSON
/// lines (`{"time", "level", "tag", "subtag", "message"}`).
public enum ClusterLogTail {
    public struct Line: Sendable, Equatable {
        /// `YYYY-MM-DDTHH:MM:SS` (local time, as the text log writes it), or the JSON line's time.
        public var timestamp: String
        /// Lower case: debug, info, warning, error, critical.
        public var level: String
        public var tag: String?
        public var subtag: String?
        public var description: String
        /// Byte offset of the line in the file: with the node, what tells two lines of the same
        /// second apart.
        public var position: Int

        public func json(node: String) -> JSON {
            var o = JSONObject(minimumCapacity: 7)
            o["node"] = .string(node)
            o["timestamp"] = .string(timestamp)
            o["level"] = .string(level)
            o["tag"] = tag.map(JSON.string) ?? .null
            o["subtag"] = subtag.map(JSON.string) ?? .null
            o["description"] = .string(description)
            o["position"] = .int(Int64(position))
            return .object(o)
        }
    }

    static func levelName(_ raw: Substring) -> String? {
        switch raw {
        case "DEBUG", "DEBUG2": return "debug"
        case "INFO": return "info"
        case "WARNING": return "warning"
        case "ERROR": return "error"
        case "CRITICAL": return "critical"
        default: return nil
        }
    }

    public static let levels = ["debug", "info", "warning", "error", "critical"]

    /// One line, or nil when it is not a log line (a continuation, a torn first line).
    public static func parse(_ text: Substring, position: Int) -> Line? {
        if text.first == "{" { return parseJSON(text, position: position) }
        // "YYYY/MM/DD HH:MM:SS LEVEL: ..."
        let u = Array(text.utf8.prefix(20))
        guard u.count == 20, u[4] == UInt8(ascii: "/"), u[7] == UInt8(ascii: "/"), u[10] == UInt8(ascii: " "),
              u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"), u[19] == UInt8(ascii: " ") else { return nil }
        var ts = Array(u[0..<19])
        ts[4] = UInt8(ascii: "-"); ts[7] = UInt8(ascii: "-"); ts[10] = UInt8(ascii: "T")
        let rest = text.dropFirst(20)
        guard let colon = rest.firstIndex(of: ":"), let level = levelName(rest[..<colon]) else { return nil }
        var body = rest[rest.index(after: colon)...].drop { $0 == " " }
        func bracket() -> String? {
            guard body.first == "[", let close = body.firstIndex(of: "]") else { return nil }
            let inner = body[body.index(after: body.startIndex)..<close]
            body = body[body.index(after: close)...].drop { $0 == " " }
            return String(inner)
        }
        let tag = bracket()
        let subtag = tag == nil ? nil : bracket()
        return Line(timestamp: String(decoding: ts, as: UTF8.self), level: level, tag: tag, subtag: subtag,
                    description: String(body), position: position)
    }

    static func parseJSON(_ text: Substring, position: Int) -> Line? {
        guard let v = try? JSON.parse(String(text)), let time = v["time"]?.stringValue,
              let message = v["message"]?.stringValue else { return nil }
        let raw = (v["level"]?.stringValue ?? "info").lowercased()
        let level: String
        switch raw {
        case "trace", "debug": level = "debug"
        case "notice", "info": level = "info"
        default: level = ClusterLogTail.levels.contains(raw) ? raw : "info"
        }
        return Line(timestamp: time, level: level, tag: v["tag"]?.stringValue, subtag: v["subtag"]?.stringValue,
                    description: message, position: position)
    }

    /// The parsed lines of the last `maxBytes` of `path` (a missing file has none).
    public static func read(_ path: String, maxBytes: Int) throws -> [Line] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return [] }
            throw ClusterError.io("cannot open \(path): \(errnoDescription(errno))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ClusterError.io("cannot stat \(path): \(errnoDescription(errno))") }
        let size = Int(st.st_size)
        let start = max(0, size - maxBytes)
        var buf = [UInt8](repeating: 0, count: size - start)
        var got = 0
        while got < buf.count {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, $0.count - got, off_t(start + got)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClusterError.io("cannot read \(path): \(errnoDescription(errno))")
            }
            if n == 0 { break }
            got += n
        }
        buf.removeSubrange(got...)
        var lines: [Line] = []
        var lineStart = 0
        // A tail that starts mid-file starts mid-line: skip to the first whole line.
        if start > 0 {
            guard let nl = buf.firstIndex(of: 0x0A) else { return [] }
            lineStart = nl + 1
        }
        // Offsets are counted on the raw bytes; invalid UTF-8 is repaired line by line.
        var i = lineStart
        while i < buf.count {
            let end = buf[i...].firstIndex(of: 0x0A) ?? buf.count
            if end > i {
                let s = String(decoding: buf[i..<end], as: UTF8.self)
                if let line = parse(Substring(s), position: start + i) { lines.append(line) }
            }
            i = end + 1
        }
        return lines
    }
}
