import ClusterKit
import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers

/// Where and how a node writes its log: stderr and `<root>/logs/cluster.log`, one line per event,
/// either in the reference's layout (`2024/10/28 10:00:00 INFO: [tag] [subtag] message`) or as
/// JSON lines (`--log-format json`).
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}

/// One sink shared by every logger of the process: the file and stderr, written under a lock so
/// lines never interleave. The file takes `format`; stderr takes it too, except with
/// `stderrJSON` (`--json-errors`, or stderr not a terminal), where every stderr line is one JSON
/// object, so that a reader can parse stderr as JSON Lines with the errors among the log lines.
public final class LogSink: @unchecked Sendable {
    private let lock = NIOLock()
    private var fileFD: Int32 = -1
    public let file: String?
    public let format: LogFormat
    public let toStderr: Bool
    public let stderrJSON: Bool

    public init(format: LogFormat, file: String?, toStderr: Bool = true, stderrJSON: Bool = false) throws {
        self.format = format
        self.toStderr = toStderr
        self.stderrJSON = stderrJSON
        self.file = file
        if let file {
            try FileIO.makeDirectories(FileIO.parentDirectory(of: file), mode: 0o750)
            fileFD = try LogSink.open(file)
        }
    }

    private static func open(_ file: String) throws -> Int32 {
        let fd = Glibc.open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            let err = errno
            let why = "cannot open the log file \(file): \(errnoDescription(err))"
            throw [EACCES, EPERM, EROFS].contains(err) ? ClusterError.refused(why) : ClusterError.io(why)
        }
        return fd
    }

    deinit { if fileFD >= 0 { close(fileFD) } }

    /// Opens the log file again by its name (after logrotate renamed it); the old descriptor is
    /// closed once the new one is open. On failure the old file stays in use.
    public func reopen() throws {
        guard let file else { return }
        try FileIO.makeDirectories(FileIO.parentDirectory(of: file), mode: 0o750)
        let fd = try LogSink.open(file)
        lock.withLock {
            if fileFD >= 0 { close(fileFD) }
            fileFD = fd
        }
    }

    /// Whether any destination wants the line in this format (a sink with a file always has it
    /// open: `reopen` replaces the descriptor, never leaves none).
    func wants(_ f: LogFormat) -> Bool {
        (file != nil && format == f) || (toStderr && (stderrJSON ? .json : format) == f)
    }

    /// Writes a line; `text` and `json` are the two renderings, built only where wanted.
    func write(text: () -> String, json: () -> String) {
        let textLine = wants(.text) ? Array((text() + "\n").utf8) : []
        let jsonLine = wants(.json) ? Array((json() + "\n").utf8) : []
        func pick(_ f: LogFormat) -> [UInt8] { f == .text ? textLine : jsonLine }
        lock.withLock {
            if fileFD >= 0 { pick(format).withUnsafeBytes { _ = Glibc.write(fileFD, $0.baseAddress, $0.count) } }
            if toStderr { pick(stderrJSON ? .json : format).withUnsafeBytes { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) } }
        }
    }
}

public struct ClusterLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    let sink: LogSink

    public init(sink: LogSink, level: Logger.Level) {
        self.sink = sink
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static func levelName(_ l: Logger.Level) -> String {
        switch l {
        case .trace: return "DEBUG2"
        case .debug: return "DEBUG"
        case .info, .notice: return "INFO"
        case .warning: return "WARNING"
        case .error: return "ERROR"
        case .critical: return "CRITICAL"
        }
    }

    static func timestamp(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tmv = tm()
        localtime_r(&t, &tmv)
        return String(format: "%04d/%02d/%02d %02d:%02d:%02d", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1,
                      Int(tmv.tm_mday), Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec))
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let m = event.metadata { all.merge(m) { _, new in new } }
        let tag = all.removeValue(forKey: "tag").map { "\($0)" }
        let subtag = all.removeValue(forKey: "subtag").map { "\($0)" }
        let now = WallClock.now
        sink.write(text: {
            var line = "\(Self.timestamp(now)) \(Self.levelName(event.level)):"
            if let tag { line += " [\(tag)]" }
            if let subtag { line += " [\(subtag)]" }
            line += " \(event.message)"
            if !all.isEmpty {
                line += " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            }
            return line
        }, json: {
            var o: JSON = ["time": .string(ClusterDate.format(now)), "level": .string(event.level.rawValue)]
            if let tag { o["tag"] = .string(tag) }
            if let subtag { o["subtag"] = .string(subtag) }
            o["message"] = .string("\(event.message)")
            for (k, v) in all.sorted(by: { $0.key < $1.key }) { o[k] = .string("\(v)") }
            return JSONWriter.compact.string(o)
        })
    }
}

extension Logger {
    /// A logger for one tag (`Master`, `Worker worker-1`, `Local Server`...).
    public static func cluster(_ tag: String, sink: LogSink?, level: Logger.Level) -> Logger {
        var l: Logger
        if let sink {
            l = Logger(label: "clustertools") { _ in ClusterLogHandler(sink: sink, level: level) }
        } else {
            l = Logger(label: "clustertools") { _ in SwiftLogNoOpLogHandler() }
        }
        l[metadataKey: "tag"] = .string(tag)
        return l
    }

    /// The same logger with another tag.
    public func tagged(_ tag: String) -> Logger {
        var l = self
        l[metadataKey: "tag"] = .string(tag)
        return l
    }
}
