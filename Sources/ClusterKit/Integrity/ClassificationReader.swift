/// Reads a classification's JSON (the master→worker container's `files_metadata.json`) straight
/// from its bytes into records, with the strict byte-level reader (`JSONScanner`) and the
/// snapshot reader's records: no JSON tree, no jansson hash tables.
///
/// A worker reads one with every apply (20,000 files is 5 MB of JSON), and jansson's tree of it
/// was several times the size of the document. The same documents are accepted as through
/// jansson (`Classification.parseWithJansson`), the same classifications come out, and a
/// problem is reported in the same words: the first one in document order, once the whole
/// document has read as JSON.
enum ClassificationReader {
    /// Without `keepHashes`, records have an empty `hash` (see `SnapshotReader.object`).
    static func parse(_ bytes: UnsafeRawBufferPointer, source: String, keepHashes: Bool = true) throws -> Classification {
        typealias SemanticError = SnapshotReader.SemanticError
        var s = JSONScanner(bytes)
        do {
            guard try s.peek() == UInt8(ascii: "{") else {
                // jansson reads only an object or an array as a document.
                guard try s.peek() == UInt8(ascii: "[") else { throw s.fail("'[' or '{' expected") }
                let v = try s.value()
                try s.finish()
                throw SemanticError(message: "\(source): expected a classification object, got \(v.typeName)")
            }
            try s.enter()
            try s.expect(UInt8(ascii: "{"))
            var c = Classification()
            var seen = Set<String>()
            var firstProblem: SemanticError? = nil
            func note(_ problem: SemanticError?) {
                if firstProblem == nil { firstProblem = problem }
            }
            if !(try s.take(UInt8(ascii: "}"))) {
                repeat {
                    guard try s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a key") }
                    let key = try s.string()
                    try s.expect(UInt8(ascii: ":"))
                    guard seen.insert(key).inserted else { throw s.fail("duplicate key \"\(key.prefix(40))\"") }
                    switch key {
                    case "missing", "extra", "shared":
                        let groupSource = "\(source): \(key)"
                        guard try s.peek() == UInt8(ascii: "{") else {
                            let v = try s.value()
                            note(SemanticError(message: "\(groupSource): expected an object of file records, got \(v.typeName)"))
                            continue
                        }
                        let (group, problem) = try SnapshotReader.object(&s, source: groupSource, keepHashes: keepHashes)
                        note(problem)
                        switch key {
                        case "missing": c.missing = group
                        case "extra": c.extra = group
                        default: c.shared = group
                        }
                    default:
                        _ = try s.value()
                        note(SemanticError(message: "\(source): unexpected key \(SafePath.quoted(key)) (a classification has missing, extra and shared)"))
                    }
                } while try s.take(UInt8(ascii: ","))
                try s.expect(UInt8(ascii: "}"))
            }
            try s.finish()
            if let firstProblem { throw firstProblem }
            return c
        } catch let e as SemanticError {
            throw ClusterError.badData(e.message)
        } catch let e as ClusterError {
            throw ClusterError.badData("\(source): \(e.message)", code: 3036)
        }
    }
}
