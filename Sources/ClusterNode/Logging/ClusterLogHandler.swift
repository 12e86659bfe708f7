import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Where and how a node writes its log: stderr and `<root>/logs/cluster.log`, one line per event,
/// either in the reference's layout (`2024/10/28 10:00:00 INFO: [tag] [subtag] message`) or as
/// JSON lines (`--log-format json`).
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}

/// One sink shared by every logger of the process: the file and stderr, written under a lock so
/// lines never interleave.
public final class LogSink: @unchecked Sendable {
    private let lock = NIOLock()
    private var fileFD: Int32 = -1
    public let format: LogFormat
    public let toStderr: Bool

    public init(format: LogFormat, file: String?, toStderr: Bool = true) throws {
        self.format = format
        self.toStderr = toStderr
        if let file {
            let dir = (file as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            fileFD = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            guard fileFD >= 0 else {
                throw ClusterError.io("cannot open log file \(file): \(errnoDescription(errno))")
            }
        }
    }

    deinit { if fileFD >= 0 { close(fileFD) } }

    func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        lock.withLock {
            bytes.withUnsafeBytes { raw in
                if fileFD >= 0 { _ = Foundation.write(fileFD, raw.baseAddress, raw.count) }
                if toStderr { _ = Foundation.write(STDERR_FILENO, raw.baseAddress, raw.count) }
            }
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
        switch sink.format {
        case .text:
            var line = "\(Self.timestamp(now)) \(Self.levelName(event.level)):"
            if let tag { line += " [\(tag)]" }
            if let subtag { line += " [\(subtag)]" }
            line += " \(event.message)"
            if !all.isEmpty {
                line += " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            }
            sink.write(line)
        case .json:
            var o: JSON = ["time": .string(ClusterDate.format(now)), "level": .string(event.level.rawValue)]
            if let tag { o["tag"] = .string(tag) }
            if let subtag { o["subtag"] = .string(subtag) }
            o["message"] = .string("\(event.message)")
            for (k, v) in all.sorted(by: { $0.key < $1.key }) { o[k] = .string("\(v)") }
            sink.write(JSONWriter.compact.string(o))
        }
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
