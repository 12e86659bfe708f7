import ArgumentParser
import ClusterCLI
import ClusterKit

// Placeholder until the integrity work lands: refuses to run rather than pretending.
@main
struct CLIntegrity: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "cl-integrity",
        abstract: "File integrity scan, compare, pack, apply and check (not built yet).",
        version: ToolVersion.versionLine)

    func run() throws { throw ClusterError.internalError("cl-integrity is not built yet") }
}
