import ArgumentParser
import ClusterKit

/// The root command of every tool: it parses, runs, and turns any error into the reporting and
/// exit status of `ErrorReporter`.
public protocol ToolCommand: AsyncParsableCommand {}

extension ToolCommand {
    public static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            StandardStreams.flushOutput()
        } catch {
            StandardStreams.flushOutput()
            ErrorReporter.exit(with: error, command: self)
        }
    }
}

/// Options every subcommand takes.
public struct CommonOptions: ParsableArguments {
    @Flag(name: .long, help: "Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).")
    public var jsonErrors = false

    public init() {}
}

/// Options of the commands that report progress on long work.
public struct ProgressOptions: ParsableArguments {
    @Flag(name: .long, help: "Show progress on stderr even when it is not a terminal.")
    public var progress = false

    @Flag(name: .long, help: "Show no progress, and no notes on stderr.")
    public var quiet = false

    public init() {}

    /// Whether long work should report progress: forced, silenced, or when stderr is a terminal.
    public var showProgress: Bool {
        if quiet { return false }
        return progress || StandardStreams.stderrIsTerminal
    }
}
