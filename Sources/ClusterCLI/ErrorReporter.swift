import ArgumentParser
import ClusterKit
import Foundation

/// How a tool reports a failure: one human line on a terminal, one JSON line otherwise (or with
/// `--json-errors`), always on stderr, and the sysexits status as the exit code.
public enum ErrorReporter {
    /// Whether errors are written as JSON: asked for, or stderr is not a terminal (a script or a
    /// log collector is reading it).
    public static var jsonErrors: Bool {
        CommandLine.arguments.contains("--json-errors") || isatty(STDERR_FILENO) == 0
    }

    public static func jsonLine(_ error: ClusterError) -> String {
        let obj: JSON = ["error": ["code": .int(Int64(error.code)), "message": .string(error.message),
                                   "exit": .int(Int64(error.exit.rawValue))]]
        return JSONWriter.compact.string(obj)
    }

    public static func write(_ error: ClusterError, tool: String) {
        let line = jsonErrors ? jsonLine(error) : "\(tool): \(error.description)"
        StandardStreams.writeError(line + "\n")
    }

    /// Reports any error and exits. ArgumentParser's own outcomes (help, version, usage errors)
    /// keep their text; usage errors take exit 64.
    public static func exit<C: ParsableCommand>(with error: Error, command: C.Type) -> Never {
        let tool = command.configuration.commandName ?? "tool"
        if let e = error as? ClusterError {
            write(e, tool: tool)
            Foundation.exit(e.exit.rawValue)
        }
        if let e = error as? CocoaError {
            // A file error from Foundation: its sentence, never its domain and code.
            let permission: Set<CocoaError.Code> = [.fileReadNoPermission, .fileWriteNoPermission, .fileWriteVolumeReadOnly]
            let e2 = ClusterError(e.localizedDescription, exit: permission.contains(e.code) ? .noPermission : .ioError)
            write(e2, tool: tool)
            Foundation.exit(e2.exit.rawValue)
        }
        if let e = error as? ExitCode {
            Foundation.exit(e.rawValue)
        }
        let code = command.exitCode(for: error)
        if code == .success {
            // --help, --version and the like: ArgumentParser prints and exits 0.
            command.exit(withError: error)
        }
        let status: ExitStatus = code.rawValue == ExitStatus.usage.rawValue || code == .validationFailure ? .usage : .software
        if jsonErrors {
            write(ClusterError(command.message(for: error), exit: status), tool: tool)
        } else {
            StandardStreams.writeError(command.fullMessage(for: error) + "\n")
        }
        Foundation.exit(status.rawValue)
    }
}

extension ClusterError {
    init(_ message: String, exit: ExitStatus) { self.init(code: 0, message, exit: exit) }
}
