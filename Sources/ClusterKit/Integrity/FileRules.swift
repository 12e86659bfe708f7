import Foundation

/// One rule of the reference's `cluster.json` `files` section: a directory (the rule key, the
/// `cluster_item_key` of every file it selects) and how its files are chosen and written.
public struct FileRule: Sendable, Equatable {
    /// The key as configured, e.g. `etc/shared/`. It is written into every record as
    /// `cluster_item_key`, so it is kept exactly as given.
    public var key: String
    /// The mode the receiving node gives every file it writes for this rule.
    public var permissions: UInt16
    /// File basenames to take, or `["all"]` for every file (only that exact list means "all").
    public var files: [String]
    /// Whether subdirectories are scanned too; false scans the top directory only.
    public var recursive: Bool
    /// After deleting extra files, remove their parent directory when it is left empty (or holds
    /// only excluded names).
    public var removeSubdirsIfEmpty: Bool
    /// Worker-only files under this rule are valid (not deleted). False everywhere in 4.9.2.
    public var extraValid: Bool
    /// Read and kept for round trips; the reference never uses them.
    public var source: String?
    public var restart: Bool?
    public var description: String?

    public init(key: String, permissions: UInt16 = 0o660, files: [String] = ["all"], recursive: Bool = true,
                removeSubdirsIfEmpty: Bool = false, extraValid: Bool = false,
                source: String? = nil, restart: Bool? = nil, description: String? = nil) {
        self.key = key
        self.permissions = permissions
        self.files = files
        self.recursive = recursive
        self.removeSubdirsIfEmpty = removeSubdirsIfEmpty
        self.extraValid = extraValid
        self.source = source
        self.restart = restart
        self.description = description
    }

    /// Whether every file is taken (`files == ["all"]`, exactly as the reference tests it).
    public var selectsAll: Bool { files == ["all"] }

    /// The rule's directory relative to the root, without a trailing `/` (`etc/shared`).
    public var directory: String {
        var d = Substring(key)
        while d.hasSuffix("/") { d = d.dropLast() }
        return String(d)
    }
}

/// The `files` section: the rules in configuration order (which is the scan order, and so the
/// key order of a snapshot) plus the two exclusion lists that apply to every rule.
public struct FileRules: Sendable, Equatable {
    public var rules: [FileRule]
    /// Basenames never taken, at any depth (`ar.conf`, `ossec.conf`).
    public var excludedFiles: [String]
    /// Suffixes never taken (`~`, `.tmp`, `.lock`, `.swp`); a plain `hasSuffix` test.
    public var excludedExtensions: [String]

    public init(rules: [FileRule], excludedFiles: [String] = FileRules.referenceExcludedFiles,
                excludedExtensions: [String] = FileRules.referenceExcludedExtensions) {
        self.rules = rules
        self.excludedFiles = excludedFiles
        self.excludedExtensions = excludedExtensions
    }

    public static let referenceExcludedFiles = ["ar.conf", "ossec.conf"]
    public static let referenceExcludedExtensions = ["~", ".tmp", ".lock", ".swp"]

    /// The stock rules of the reference's `cluster.json` (4.9.2).
    public static let reference = FileRules(rules: [
        FileRule(key: "etc/", permissions: 0o640, files: ["client.keys"], recursive: false,
                 source: "master", restart: false, description: "client keys file database"),
        FileRule(key: "etc/shared/", permissions: 0o660, files: ["all"], recursive: true, removeSubdirsIfEmpty: true,
                 source: "master", restart: false, description: "shared configuration files"),
        FileRule(key: "var/multigroups/", permissions: 0o660, files: ["merged.mg"], recursive: true, removeSubdirsIfEmpty: true,
                 source: "master", restart: false, description: "shared configuration files"),
        FileRule(key: "etc/rules/", permissions: 0o660, files: ["all"], recursive: true,
                 source: "master", restart: true, description: "user rules"),
        FileRule(key: "etc/decoders/", permissions: 0o660, files: ["all"], recursive: true,
                 source: "master", restart: true, description: "user decoders"),
        FileRule(key: "etc/lists/", permissions: 0o660, files: ["all"], recursive: true,
                 source: "master", restart: true, description: "user CDB lists"),
    ])

    public func rule(forKey key: String) -> FileRule? { rules.first { $0.key == key } }

    /// Whether a basename is left out by `excluded_files` or `excluded_extensions`.
    public func isExcluded(name: String) -> Bool {
        if excludedFiles.contains(name) { return true }
        return excludedExtensions.contains { name.hasSuffix($0) }
    }

    /// Whether a scan under `rule` would take the file at `path` (relative to the root): it lies
    /// in the rule's directory (directly, unless recursive), its name is not excluded and it is
    /// one of the rule's files. Used to refuse peer metadata that names a file no rule covers
    /// (the reference would write or delete it anyway).
    public func selects(path: String, rule: FileRule) -> Bool {
        let dir = rule.directory
        let rest: Substring
        if dir.isEmpty {
            rest = Substring(path)
        } else {
            guard path.hasPrefix(dir + "/") else { return false }
            rest = path.dropFirst(dir.utf8.count + 1)
        }
        guard !rest.isEmpty else { return false }
        if !rule.recursive && rest.contains("/") { return false }
        let name = String(rest.split(separator: "/", omittingEmptySubsequences: false).last ?? rest)
        if isExcluded(name: name) { return false }
        return rule.selectsAll || rule.files.contains(name)
    }

    // MARK: configuration

    static let ruleKeys: Set<String> = Set(ConfigSchema.fileRuleFields.map(\.name))
    /// Top-level sections of our `cluster.json` (and of the reference's), recognized so that a
    /// configuration without a `files` section gets the reference rules.
    static let clusterSections: Set<String> = Set(ConfigSchema.children(of: "").map(\.name)).subtracting(["files"]).union(["distributed_api"])

    /// Parses a `files` object. Keys other than `excluded_files` and `excluded_extensions` are
    /// rules. Missing rule fields take these defaults: permissions 0o660, files ["all"],
    /// recursive true, remove_subdirs_if_empty false, extra_valid false. Unknown keys and bad
    /// values are a configuration error (exit 78) naming the key.
    public init(filesSection json: JSON, source: String = "files") throws {
        guard case .object(let obj) = json else {
            throw ClusterError.config("\(source): expected an object, got \(json.typeName)")
        }
        var rules = [FileRule]()
        var excludedFiles = FileRules.referenceExcludedFiles
        var excludedExtensions = FileRules.referenceExcludedExtensions
        for (key, value) in obj {
            let where_ = "\(source).\(key)"
            switch key {
            case "excluded_files":
                excludedFiles = try FileRules.stringList(value, where_)
                for name in excludedFiles where name.isEmpty || name.contains("/") {
                    throw ClusterError.config("\(where_): \(SafePath.quoted(name)) is not a file name")
                }
            case "excluded_extensions":
                excludedExtensions = try FileRules.stringList(value, where_)
                if excludedExtensions.contains("") {
                    throw ClusterError.config("\(where_): an empty suffix would exclude every file")
                }
            default:
                rules.append(try FileRules.parseRule(key: key, value, where_))
            }
        }
        self.init(rules: rules, excludedFiles: excludedFiles, excludedExtensions: excludedExtensions)
    }

    /// Parses a whole configuration document: our `cluster.json` or the reference's (the `files`
    /// section is used; without one, the reference rules apply), or a bare `files` object.
    public init(configuration json: JSON, source: String) throws {
        guard case .object(let obj) = json else {
            throw ClusterError.config("\(source): expected a JSON object, got \(json.typeName)")
        }
        if let files = obj["files"] {
            try self.init(filesSection: files, source: "\(source): files")
        } else if obj.keys.contains(where: { FileRules.clusterSections.contains($0) }) {
            self = .reference
        } else {
            try self.init(filesSection: json, source: source)
        }
    }

    /// Loads the rules from a configuration file (see `init(configuration:source:)`).
    public static func load(path: String) throws -> FileRules {
        let bytes = try FileIO.readAll(path: path, limit: 64 << 20)
        let json: JSON
        do {
            json = try JSON.parse(bytes, source: path)
        } catch let e as ClusterError {
            throw ClusterError.config(e.message)
        }
        return try FileRules(configuration: json, source: path)
    }

    static func stringList(_ value: JSON, _ where_: String) throws -> [String] {
        guard case .array(let items) = value else {
            throw ClusterError.config("\(where_): expected a list of strings, got \(value.typeName)")
        }
        return try items.map {
            guard case .string(let s) = $0 else {
                throw ClusterError.config("\(where_): expected a list of strings, found \($0.typeName)")
            }
            return s
        }
    }

    static func bool(_ value: JSON, _ where_: String) throws -> Bool {
        guard case .bool(let b) = value else {
            throw ClusterError.config("\(where_): expected true or false, got \(value.typeName)")
        }
        return b
    }

    /// The reference parses `permissions` with Python `int(x, 0)`: `"0o640"`, `"0x1a0"`,
    /// `"416"`. We accept that and a JSON integer; the result must be a mode (0...0o7777).
    static func permissions(_ value: JSON, _ where_: String) throws -> UInt16 {
        var mode: Int64?
        switch value {
        case .int(let i): mode = i
        case .string(let s):
            var t = Substring(s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: ""))
            var negative = false
            if t.hasPrefix("+") { t = t.dropFirst() } else if t.hasPrefix("-") { negative = true; t = t.dropFirst() }
            let lower = t.lowercased()
            if lower.hasPrefix("0o") { mode = Int64(lower.dropFirst(2), radix: 8) }
            else if lower.hasPrefix("0x") { mode = Int64(lower.dropFirst(2), radix: 16) }
            else if lower.hasPrefix("0b") { mode = Int64(lower.dropFirst(2), radix: 2) }
            else if lower.count > 1 && lower.hasPrefix("0") { mode = nil }   // int("0640", 0) fails too
            else if !lower.isEmpty && lower.allSatisfy(\.isASCII) { mode = Int64(lower, radix: 10) }
            if negative, let m = mode { mode = -m }
        default: break
        }
        guard let m = mode, (0...0o7777).contains(m) else {
            throw ClusterError.config("\(where_): expected a file mode such as \"0o640\" (0 to 0o7777), got \(JSONWriter.compact.string(value))")
        }
        return UInt16(m)
    }

    static func parseRule(key: String, _ value: JSON, _ where_: String) throws -> FileRule {
        let dir = String(key.reversed().drop(while: { $0 == "/" }).reversed())
        do {
            try SafePath.validateRelative(dir)
        } catch {
            throw ClusterError.config("\(where_): a rule key must be a relative directory such as \"etc/shared/\"")
        }
        guard case .object(let obj) = value else {
            throw ClusterError.config("\(where_): expected a rule object, got \(value.typeName)")
        }
        var rule = FileRule(key: key)
        for (field, v) in obj {
            let at = "\(where_).\(field)"
            switch field {
            case "permissions": rule.permissions = try permissions(v, at)
            case "files":
                rule.files = try stringList(v, at)
                for name in rule.files where name.isEmpty || name.contains("/") {
                    throw ClusterError.config("\(at): \(SafePath.quoted(name)) is not a file name")
                }
            case "recursive": rule.recursive = try bool(v, at)
            case "remove_subdirs_if_empty": rule.removeSubdirsIfEmpty = try bool(v, at)
            case "extra_valid": rule.extraValid = try bool(v, at)
            case "restart": rule.restart = try bool(v, at)
            case "source":
                guard case .string(let s) = v else { throw ClusterError.config("\(at): expected a string, got \(v.typeName)") }
                rule.source = s
            case "description":
                guard case .string(let s) = v else { throw ClusterError.config("\(at): expected a string, got \(v.typeName)") }
                rule.description = s
            default:
                throw ClusterError.config("\(at): unknown key (a rule takes \(ruleKeys.sorted().joined(separator: ", ")))")
            }
        }
        return rule
    }

    /// The rules as a `files` object in the reference's shape.
    public func toJSON() -> JSON {
        var o = JSONObject()
        for r in rules {
            var ro = JSONObject()
            ro["permissions"] = .string("0o" + String(r.permissions, radix: 8))
            if let s = r.source { ro["source"] = .string(s) }
            ro["files"] = .array(r.files.map { .string($0) })
            ro["recursive"] = .bool(r.recursive)
            if let x = r.restart { ro["restart"] = .bool(x) }
            ro["remove_subdirs_if_empty"] = .bool(r.removeSubdirsIfEmpty)
            ro["extra_valid"] = .bool(r.extraValid)
            if let d = r.description { ro["description"] = .string(d) }
            o[r.key] = .object(ro)
        }
        o["excluded_files"] = .array(excludedFiles.map { .string($0) })
        o["excluded_extensions"] = .array(excludedExtensions.map { .string($0) })
        return .object(o)
    }
}
