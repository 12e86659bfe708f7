import Testing
@testable import ClusterKit

/// ConfigSchema is the one definition of cluster.json's keys: the reader asks for exactly its
/// keys, takes their defaults and ranges from it, and refuses any other key with a suggestion.
@Suite struct ConfigSchemaTests {
    static let key = "0123456789abcdef0123456789abcdef"

    func load(_ json: JSON) throws -> ClusterConfig { try ClusterConfig(json: json, baseDirectory: "/etc/clustertools") }

    func worker(cluster: JSON = ["name": "wazuh", "key": .string(ConfigSchemaTests.key)], extra: [String: JSON] = [:]) -> JSON {
        var o: JSON = ["cluster": cluster, "node": ["name": "worker-1", "type": "worker", "root": "/var/ossec", "master": "m"]]
        for (k, v) in extra { o[k] = v }
        return o
    }

    @Test func theReaderAsksForExactlyTheSchemasKeys() throws {
        let read = try ClusterConfig.keysRead()
        let schema = Set(ConfigSchema.keys.map(\.path))
        #expect(read.subtracting(schema).isEmpty, "read but not in the schema: \(read.subtracting(schema).sorted())")
        #expect(schema.subtracting(read).isEmpty, "in the schema but never read: \(schema.subtracting(read).sorted())")
        #expect(read.count == ConfigSchema.keys.count)
    }

    @Test func everyDefaultHasTheKeysTypeAndLiesInItsRange() {
        for k in ConfigSchema.keys {
            guard let d = k.defaultValue else { continue }
            switch k.type {
            case .integer: #expect(d.intValue != nil, "\(k.path)")
            case .seconds, .number: #expect(d.doubleValue != nil, "\(k.path)")
            case .boolean: #expect(d.boolValue != nil, "\(k.path)")
            case .string, .path, .hostPort, .hostPorts, .strings: #expect(d.stringValue != nil, "\(k.path)")
            case .object: Issue.record("\(k.path): a section has no default")
            }
            if let range = k.range, let x = d.doubleValue { #expect(range.contains(x), "\(k.path)") }
            #expect(k.parent.isEmpty || ConfigSchema.key(k.parent)?.type == .object, "\(k.path): its section is not in the schema")
        }
    }

    @Test func leftOutKeysTakeTheSchemasDefaults() throws {
        let c = try load(worker())
        #expect(c.intervals.workerSyncIntegrity == ConfigSchema.key("intervals.worker.sync_integrity")?.defaultValue?.doubleValue)
        #expect(c.intervals.workerSyncIntegrity == 9)
        #expect(c.limits.maxConnections == 4096)
        #expect(c.limits.maxDeleteFraction == 0.5)
        #expect(c.intervals.masterWatchIntegrity)
        #expect(c.port == 1516 && c.bind == "0.0.0.0" && c.localSocket == "queue/cluster/c-internal.sock")
        #expect(c.compatVersion == ToolVersion.compatVersion)
    }

    /// Loading `json` fails with exit 78 and exactly `message`.
    func expectRefused(_ json: JSON, _ message: String) {
        do {
            _ = try load(json)
            Issue.record("accepted: \(message)")
        } catch let e as ClusterError {
            #expect(e.exit == .config)
            #expect(e.message == "cluster.json: \(message)")
        } catch { Issue.record("\(error)") }
    }

    @Test func aMistypedKeyIsUnknownWithTheClosestKeySuggested() {
        expectRefused(worker(cluster: ["name": "wazuh", "keyfile": "cluster.key"]), "cluster.keyfile: unknown key; did you mean key_file?")
        expectRefused(worker(extra: ["limits": ["max_conections": 10]]), "limits.max_conections: unknown key; did you mean max_connections?")
        expectRefused(worker(extra: ["interval": ["worker": [:]]]), "interval: unknown key; did you mean intervals?")
        expectRefused(worker(extra: ["intervals": ["worker": ["sync_integrty": 5]]]),
                      "intervals.worker.sync_integrty: unknown key; did you mean sync_integrity?")
    }

    @Test func aKeyNothingResemblesIsUnknownWithTheSectionsKeysListed() {
        expectRefused(worker(cluster: ["name": "wazuh", "key": .string(Self.key), "colour": "blue"]),
                      "cluster.colour: unknown key (cluster takes name, key, key_file, compat_version)")
    }

    @Test func rangesComeFromTheSchema() {
        expectRefused(worker(extra: ["intervals": ["communication": ["compress_level": 10]]]),
                      "intervals.communication.compress_level: must be from 0 to 9, got 10")
    }

    @Test func suggestionsAreOnlyForCloseNames() {
        #expect(ConfigSchema.suggestion(for: "keyfile", in: "cluster") == "key_file")
        #expect(ConfigSchema.suggestion(for: "KEY-FILE", in: "cluster") == "key_file")
        #expect(ConfigSchema.suggestion(for: "colour", in: "cluster") == nil)
        #expect(ConfigSchema.suggestion(for: "rot", in: "node") == "root")
    }

    @Test func theFileRuleFieldsAreTheParsersFields() {
        #expect(FileRules.ruleKeys == Set(ConfigSchema.fileRuleFields.map(\.name)))
        #expect(ConfigSchema.fileListFields.map(\.name) == ["excluded_files", "excluded_extensions"])
    }
}
