import ArgumentParser
import ClusterKit
import Foundation

/// Where a tool takes the cluster key from. The key is never accepted on the command line, where
/// any user could read it in the process list.
public struct KeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read the key from this file: the 32-character cluster key or a 44-character Fernet key.", valueName: "file"))
    public var keyFile: String?

    @Option(name: .long, help: ArgumentHelp("Read the key from this environment variable.", valueName: "var"))
    public var keyEnv: String?

    public init() {}

    public func validate() throws {
        if keyFile != nil && keyEnv != nil {
            throw ValidationError("give either --key-file or --key-env, not both")
        }
    }

    /// The key, or nil when neither option was given.
    public func loadIfGiven() throws -> ClusterKey? {
        if let keyFile { return try ClusterKey(contentsOfFile: keyFile) }
        if let keyEnv {
            guard let text = ProcessInfo.processInfo.environment[keyEnv] else {
                throw ClusterError.noInput("environment variable \(keyEnv) is not set")
            }
            do { return try ClusterKey(text: text) } catch let e as ClusterError {
                throw ClusterError.badData("\(keyEnv): \(e.message)")
            }
        }
        return nil
    }

    public func load() throws -> ClusterKey {
        guard let key = try loadIfGiven() else {
            throw ClusterError.usage("a key is required: give --key-file FILE or --key-env VAR")
        }
        return key
    }
}
