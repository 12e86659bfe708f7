import ClusterKit
import Dispatch
import Glibc
import Logging
import NIOConcurrencyHelpers

/// SIGHUP: the log file is opened again by its name (logrotate has renamed it), and cluster.json
/// is read again: the changed `intervals` and `limits` are put in force and logged, every other
/// change is logged as needing a restart (`ConfigReload`). A file that no longer reads keeps the
/// configuration in force. The node keeps serving throughout; systemd hears `RELOADING=1`, then
/// `READY=1`.
public final class NodeReload: Sendable {
    let context: NodeContext
    let configPath: String
    /// The document the node started with: what a restart-only change is measured against.
    let startDocument: JSON
    let logger: Logger
    private let busy = NIOLock()

    public init(context: NodeContext, configPath: String) {
        self.context = context
        self.configPath = configPath
        startDocument = context.config.document
        logger = context.logger("Main")
    }

    /// Makes SIGHUP ignored by the process (call it first thing: a HUP during start-up must not
    /// kill the node), for `install` to handle later.
    public static func ignoreSignal() { signal(SIGHUP, SIG_IGN) }

    /// Handles every SIGHUP from now on.
    public func install() {
        NodeReload.ignoreSignal()
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [self] in self.reload() }
        source.resume()
        NodeReload.sources.append(source)
    }

    // Signal sources must stay alive for the life of the process (installed once, at start).
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// One reload, as SIGHUP does it (blocking; one at a time).
    public func reload() {
        busy.withLock {
            SystemdNotifier.reloading()
            defer { SystemdNotifier.ready() }
            if let sink = context.sink, let file = sink.file {
                do {
                    try sink.reopen()
                    logger.info("SIGHUP: log file \(file) opened again.")
                } catch {
                    logger.error("SIGHUP: cannot open the log file again, still writing to the old one: \(error)")
                }
            }
            let new: ClusterConfig
            do { new = try ClusterConfig.load(path: configPath) } catch {
                logger.error("SIGHUP: \(configPath) not reloaded, the configuration in force is kept: \(error)")
                return
            }
            let current = context.config
            let outcome = ConfigReload(start: startDocument, current: current, new: new)
            context.replaceConfig(outcome.config)
            if outcome.applied.isEmpty {
                logger.info("SIGHUP: \(configPath) read again; no reloadable setting changed.")
            } else {
                logger.info("SIGHUP: \(configPath) reloaded: \(outcome.applied.map(\.description).joined(separator: ", ")).")
            }
            if !outcome.needRestart.isEmpty {
                logger.warning("SIGHUP: changed in \(configPath) but applied only by a restart (the values in force are kept): \(outcome.needRestart.map(\.description).joined(separator: ", ")).")
            }
        }
    }
}
