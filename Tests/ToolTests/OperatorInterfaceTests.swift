import Foundation
import Testing

/// Options that mean what they say, and what a new operator meets first: a key file the service
/// can read, a clear refusal to overwrite it, a typo'd configuration key named with its fix, and
/// commands that read stdin saying so on a terminal instead of waiting silently.
@Suite struct OperatorInterfaceTests {
    /// Runs `command` with its stdin, stdout and stderr on a pseudo-terminal (script(1)); the
    /// status is the command's.
    static func onTerminal(_ command: String, in dir: URL? = nil) throws -> (status: Int32, output: String) {
        let quoted = command.replacingOccurrences(of: "'", with: #"'\''"#)
        let r = try ToolRunner.shell("script -qec '\(quoted)' /dev/null < /dev/null", in: dir)
        return (r.status, r.stdoutText)
    }

    @Test func keygenOverAnExistingFileExits73() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try ToolRunner.shell("cl-crypt keygen -o cluster.key", in: dir).status == 0)
        let before = try String(contentsOf: dir.appendingPathComponent("cluster.key"), encoding: .utf8)
        let again = try ToolRunner.shell("cl-crypt keygen -o cluster.key", in: dir)
        #expect(again.status == 73)
        #expect(errorLine(again.stderr)?["message"] as? String == "cluster.key already exists; give --force to replace it")
        #expect(try String(contentsOf: dir.appendingPathComponent("cluster.key"), encoding: .utf8) == before)
    }

    @Test func keygenGivesTheKeyToAGroup() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A group every Debian system has, other than the caller's own.
        let r = try ToolRunner.shell("umask 077 && cl-crypt keygen -o cluster.key --group daemon && stat -c '%a %G' cluster.key", in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutText == "640 daemon\n")
        let key = try String(contentsOf: dir.appendingPathComponent("cluster.key"), encoding: .utf8)
        #expect(key.count == 33)
        // A group that does not exist, or --group without a file: usage errors, nothing written.
        let unknown = try ToolRunner.shell("cl-crypt keygen -o other.key --group no-such-group-here", in: dir)
        #expect(unknown.status == 64 && (errorLine(unknown.stderr)?["message"] as? String ?? "").contains("no group named no-such-group-here"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("other.key").path))
        #expect(try ToolRunner.shell("cl-crypt keygen --group daemon", in: dir).status == 64)
        let listing = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(listing == ["cluster.key"], "a temporary file was left behind: \(listing)")
    }

    @Test func optionsThatMeantNothingAreGone() throws {
        // Each was accepted and ignored: now a usage error (64).
        for command in ["cl-crypt keygen --progress", "cl-crypt keygen --quiet",
                        "cl-worker run --socket /tmp/x.sock -c /nonexistent.json",
                        "cl-worker agents upsert --socket /tmp/x.sock -c /nonexistent.json",
                        "cl-master agents list --node worker-1 -c /nonexistent.json"] {
            let r = try ToolRunner.shell(command)
            #expect(r.status == 64, "\(command): \(r.status) \(r.stderr)")
        }
        // The one name for node filters is --nodes, everywhere; past the parser, the missing
        // configuration is what stops these (66).
        for command in ["cl-master agents list --nodes worker-1 -c /nonexistent.json",
                        "cl-master health --nodes worker-1 -c /nonexistent.json",
                        "cl-dapi call cluster.config --nodes worker-1 -c /nonexistent.json"] {
            let r = try ToolRunner.shell(command)
            #expect(r.status == 66, "\(command): \(r.status) \(r.stderr)")
        }
    }

    @Test func syncStepsNeedNoOnce() throws {
        for command in ["cl-worker sync integrity -c /nonexistent.json", "cl-worker sync integrity --once -c /nonexistent.json",
                        "cl-worker sync agent-info -c /nonexistent.json", "cl-worker sync agent-info --once -c /nonexistent.json"] {
            let r = try ToolRunner.shell(command)
            #expect(r.status == 66, "\(command): \(r.status) \(r.stderr)")
        }
        let help = try ToolRunner.shell("cl-worker sync integrity --help")
        let usage = help.stdoutText.split(separator: "\n").first { $0.hasPrefix("USAGE:") } ?? ""
        #expect(usage.contains("cl-worker sync integrity") && !usage.contains("--once"))
    }

    @Test func aTypodKeyIsNamedWithItsFix() throws {
        let dir = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = #"{"cluster": {"name": "wazuh", "keyfile": "cluster.key"}, "node": {"name": "w", "type": "worker", "root": ".", "master": "m"}}"#
        try config.write(to: dir.appendingPathComponent("cluster.json"), atomically: true, encoding: .utf8)
        let r = try ToolRunner.shell("cl-worker sync agent-info -c cluster.json", in: dir)
        #expect(r.status == 78)
        #expect(errorLine(r.stderr)?["message"] as? String == "cluster.json: cluster.keyfile: unknown key; did you mean key_file?")
    }

    @Test func commandsReadingStdinSayWhatTheyExpectOnATerminal() throws {
        let cases = [
            ("cl-dapi call", "expects a request as JSON on standard input; pipe it in, or name an operation"),
            ("cl-worker agents upsert -c /nonexistent.json", "expects agents as JSON Lines (one object per line) on standard input"),
            ("cl-worker agents remove -c /nonexistent.json", "expects agent ids as JSON Lines on standard input"),
            ("cl-master agents set-groups -c /nonexistent.json", "expects {\"id\", \"groups\"} JSON Lines on standard input"),
        ]
        for (command, message) in cases {
            let r = try Self.onTerminal(command)
            #expect(r.status == 64, "\(command): \(r.status) \(r.output)")
            #expect(r.output.contains(message), "\(command): \(r.output)")
        }
    }

    @Test func completionsCompleteValues() throws {
        let root = ToolRunner.packageRoot
        let dapi = try String(contentsOf: root.appendingPathComponent("completions/bash/cl-dapi"), encoding: .utf8)
        #expect(dapi.contains("local_any") && dapi.contains("distributed_master") && dapi.contains("agents.list"))
        let worker = try String(contentsOf: root.appendingPathComponent("completions/zsh/_cl-worker"), encoding: .utf8)
        #expect(worker.contains("text") && worker.contains("json") && worker.contains("never_connected"))
        // Node names come from the running node; with none running, none (and no error).
        let none = try ToolRunner.shell("cl-master ---completion health -- --nodes 3 0 cl-master health --nodes ''", environment: ["CLUSTERTOOLS_CONFIG": "/nonexistent.json"])
        #expect(none.status == 0 && none.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(none.stderr)")
    }
}

/// Node names complete from the running cluster: the completion asks the node that the command
/// line's --config names, through its local socket.
@Suite(.serialized) struct NodeNameCompletionTests {
    @Test func nodesCompleteFromTheRunningCluster() async throws {
        let h = try ClusterHarness("complete-nodes")
        defer { h.stopAll() }
        let port = try await blocking { try await h.startMaster() }
        try await blocking { try h.startWorker("worker-1", masterPort: port) }
        try await blocking { try h.startWorker("worker-2", masterPort: port) }
        try await blocking { try await h.waitUntil("both workers connected") { h.connectedWorkers().sorted() == ["worker-1", "worker-2"] } }
        let config = h.configPath("master-node")
        // What the bash completion script runs for `cl-master health -c CONFIG --nodes worker-1,<TAB>`.
        let words = "cl-master health -c '\(config)' --nodes worker-1,"
        let r = try await blocking { try ToolRunner.shell("cl-master ---completion health -- --nodes 5 9 \(words)") }
        #expect(r.status == 0, "\(r.stderr)")
        let offered = r.stdoutText.split(separator: "\n").map(String.init).sorted()
        #expect(offered == ["worker-1,master-node", "worker-1,worker-2"], "\(offered)")
        // cl-dapi call --nodes completes the same way.
        let dapi = try await blocking { try ToolRunner.shell("cl-dapi ---completion call -- --nodes 5 0 cl-dapi call -c '\(config)' --nodes ''") }
        #expect(dapi.stdoutText.split(separator: "\n").map(String.init).sorted() == ["master-node", "worker-1", "worker-2"], "\(dapi.stdoutText) \(dapi.stderr)")
    }
}
