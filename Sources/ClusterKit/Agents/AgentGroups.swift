/// Group names and lists, checked as the reference checks them: a name is 1 to 255 characters
/// from `[A-Za-z0-9_.-]`, not `.` or `..`; an agent belongs to at most 128 groups, each once.
public enum AgentGroups {
    public static let maxGroupsPerAgent = 128
    public static let maxNameLength = 255

    public static func validate(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= maxNameLength else {
            throw ClusterError.badData("group name must be 1 to \(maxNameLength) characters, got \(name.utf8.count)")
        }
        guard name != ".", name != ".." else { throw ClusterError.badData("\"\(name)\" is not a valid group name") }
        for b in name.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                continue
            default:
                throw ClusterError.badData("group name \"\(name.prefix(60))\" may only hold letters, digits, '_', '-' and '.'")
            }
        }
    }

    /// A checked group list, in the order given (the order is the priority).
    public static func parse(_ v: JSON?) throws -> [String] {
        let items: [JSON]
        switch v {
        case .array(let a)?: items = a
        case .null?: items = []
        case .string(let s)?: items = s.isEmpty ? [] : s.split(separator: ",", omittingEmptySubsequences: false).map { .string(String($0)) }
        case nil: throw ClusterError.badData("groups is required")
        case let other?: throw ClusterError.badData("groups must be an array of names, got \(other.typeName)")
        }
        var seen = Set<String>()
        var out = [String]()
        for item in items {
            guard case .string(let g) = item else { throw ClusterError.badData("groups must be an array of names, got \(item.typeName) in it") }
            try validate(g)
            guard seen.insert(g).inserted else { throw ClusterError.badData("group \"\(g)\" is listed twice") }
            out.append(g)
        }
        guard out.count <= maxGroupsPerAgent else {
            throw ClusterError.badData("an agent belongs to at most \(maxGroupsPerAgent) groups, got \(out.count)")
        }
        return out
    }

    /// The stored form: the comma-joined list, nil when empty (wazuh-db's `group` column).
    public static func csv(_ groups: [String]) -> String? { groups.isEmpty ? nil : groups.joined(separator: ",") }

    public static func split(_ csv: String?) -> [String] {
        guard let csv, !csv.isEmpty else { return [] }
        return csv.split(separator: ",").map(String.init)
    }
}
