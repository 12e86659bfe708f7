#if canImport(Glibc)
import Glibc
#endif

/// Lists the files the rules select, in the reference's order (sync spec §3.1): rules in
/// configuration order; within a rule, `os.walk(top)` top-down with `followlinks=False`: a
/// directory's files in `readdir` order, then each subdirectory in `readdir` order.
///
/// As in `os.walk`: the rule's top directory is opened even through a symlink; a symlink to a
/// directory met inside is neither a file nor walked; a symlink to a file (or a dangling one)
/// is a file (the stat that follows decides). Directories that cannot be opened are skipped.
struct DirectoryWalker {
    struct Candidate {
        var path: String
        var rule: Int
        /// The basename contains `.merged` (the reference's test for merged files).
        var merged: Bool
    }

    let rootFD: Int32
    let rules: FileRules
    private let excludedNames: [[UInt8]]
    private let excludedSuffixes: [[UInt8]]
    private let ruleFiles: [[[UInt8]]?]

    /// Names that are not valid UTF-8 cannot be keys of a JSON snapshot (the reference fails on
    /// them when it builds a container); they are reported and skipped.
    private(set) var issues: [ScanIssue] = []
    /// Directories read by `walk()`.
    private(set) var directoriesRead = 0

    init(rootFD: Int32, rules: FileRules) {
        self.rootFD = rootFD
        self.rules = rules
        excludedNames = rules.excludedFiles.map { Array($0.utf8) }
        excludedSuffixes = rules.excludedExtensions.map { Array($0.utf8) }
        ruleFiles = rules.rules.map { $0.selectsAll ? nil : $0.files.map { Array($0.utf8) } }
    }

    /// Whether two rules can name the same path (one directory inside the other), in which case
    /// the snapshot must merge duplicates as Python's `dict.update` does.
    var rulesOverlap: Bool {
        let rs = rules.rules
        for (i, a) in rs.enumerated() {
            for (j, b) in rs.enumerated() where i != j {
                let da = a.directory, db = b.directory
                // A non-recursive rule only lists files directly in its directory, which no
                // deeper rule lists.
                if da == db || (a.recursive && (da.isEmpty || db.hasPrefix(da + "/"))) { return true }
            }
        }
        return false
    }

    mutating func walk() -> [Candidate] {
        var out = [Candidate]()
        for (i, rule) in rules.rules.enumerated() {
            let dir = rule.directory
            let fd = dir.isEmpty ? dup(rootFD) : openat(rootFD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            walk(fd: fd, relative: dir, rule: rule, ruleIndex: i, into: &out)
            close(fd)
        }
        return out
    }

    private func excluded(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        for e in excludedNames where e.count == name.count && e.elementsEqual(name) { return true }
        for e in excludedSuffixes where e.count <= name.count {
            if e.elementsEqual(UnsafeBufferPointer(rebasing: name[(name.count - e.count)...])) { return true }
        }
        return false
    }

    private static let mergedMark = Array(".merged".utf8)

    private static func containsMerged(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        let m = mergedMark
        guard name.count >= m.count else { return false }
        for start in 0...(name.count - m.count) where name[start] == m[0] {
            if UnsafeBufferPointer(rebasing: name[start..<(start + m.count)]).elementsEqual(m) { return true }
        }
        return false
    }

    /// One directory's entries as a rule takes them: its files (candidates) and the
    /// subdirectories to walk, in `readdir` order, and the names left out with an issue.
    struct Listing {
        var candidates: [Candidate] = []
        /// Names, not paths.
        var subdirectories: [String] = []
        var issues: [ScanIssue] = []
        /// The directory holds symbolic links: what they are (a file, a directory, nothing) can
        /// change with no change to this directory.
        var hasLinks = false
    }

    private mutating func walk(fd: Int32, relative: String, rule: FileRule, ruleIndex: Int,
                               into out: inout [Candidate]) {
        guard let listing = list(fd: fd, relative: relative, ruleIndex: ruleIndex) else { return }
        directoriesRead += 1
        out.append(contentsOf: listing.candidates)
        issues.append(contentsOf: listing.issues)
        let prefix = relative.isEmpty ? "" : relative + "/"
        for name in listing.subdirectories {
            let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
            guard child >= 0 else { continue }
            walk(fd: child, relative: prefix + name, rule: rule, ruleIndex: ruleIndex, into: &out)
            close(child)
        }
    }

    /// Reads the directory open as `fd` (its path relative to the root is `relative`) under
    /// rule `ruleIndex`. Nil when it cannot be read.
    func list(fd: Int32, relative: String, ruleIndex: Int) -> Listing? {
        let listFD = dup(fd)
        guard listFD >= 0, let dir = fdopendir(listFD) else {
            if listFD >= 0 { close(listFD) }
            return nil
        }
        var listing = Listing()
        let rule = rules.rules[ruleIndex]
        let prefix = relative.isEmpty ? "" : relative + "/"
        let files = ruleFiles[ruleIndex]
        while let ent = readdir(dir) {
            let type = Int32(ent.pointee.d_type)
            if type == Int32(DT_LNK) { listing.hasLinks = true }
            let decision: (name: String, merged: Bool, isDirectory: Bool)? = withUnsafePointer(to: &ent.pointee.d_name) {
                $0.withMemoryRebound(to: UInt8.self, capacity: 256) { p -> (String, Bool, Bool)? in
                    let len = strlen(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
                    let name = UnsafeBufferPointer(start: p, count: len)
                    if len == 1 && p[0] == 0x2E || len == 2 && p[0] == 0x2E && p[1] == 0x2E { return nil }
                    var isDirectory: Bool
                    switch type {
                    case Int32(DT_DIR): isDirectory = true
                    case Int32(DT_REG): isDirectory = false
                    case Int32(DT_LNK):
                        // os.walk puts a link to a directory among the directories (and, without
                        // followlinks, never enters it): it is not a file.
                        var st = stat()
                        if fstatat(fd, UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self), &st, 0) == 0
                            && (st.st_mode & S_IFMT) == S_IFDIR { return nil }
                        isDirectory = false
                    default:
                        var st = stat()
                        let cname = UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self)
                        if fstatat(fd, cname, &st, AT_SYMLINK_NOFOLLOW) == 0 {
                            let kind = st.st_mode & S_IFMT
                            if kind == S_IFLNK {
                                listing.hasLinks = true
                                var target = stat()
                                if fstatat(fd, cname, &target, 0) == 0 && (target.st_mode & S_IFMT) == S_IFDIR { return nil }
                            }
                            isDirectory = kind == S_IFDIR
                        } else {
                            isDirectory = false
                        }
                    }
                    if isDirectory {
                        guard rule.recursive else { return nil }
                    } else {
                        if excluded(name) { return nil }
                        if let files, !files.contains(where: { $0.count == len && $0.elementsEqual(name) }) { return nil }
                    }
                    guard let s = String(validating: name, as: UTF8.self) else {
                        return ("", false, isDirectory)
                    }
                    return (s, !isDirectory && DirectoryWalker.containsMerged(name), isDirectory)
                }
            }
            guard let decision else { continue }
            if decision.name.isEmpty {
                listing.issues.append(ScanIssue(path: prefix + "?", message: "a name in \(relative.isEmpty ? "." : relative) is not valid UTF-8; skipped"))
                continue
            }
            if decision.isDirectory {
                listing.subdirectories.append(decision.name)
            } else {
                listing.candidates.append(Candidate(path: prefix + decision.name, rule: ruleIndex, merged: decision.merged))
            }
        }
        closedir(dir)
        return listing
    }
}
