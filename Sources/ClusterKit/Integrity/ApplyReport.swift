/// One thing that went wrong while applying, for one path.
public struct ApplyIssue: Sendable, Equatable {
    public var path: String
    /// `create`, `update`, `delete`, `remove_dir` or `missing_entry`.
    public var action: String
    public var message: String

    public init(path: String, action: String, message: String) {
        self.path = path
        self.action = action
        self.message = message
    }

    public func toJSON() -> JSON {
        ["path": .string(path), "action": .string(action), "message": .string(message)]
    }
}

/// What applying a container did (or, for a dry run, would do). The worker daemon logs it and
/// hands it to its `--on-change` hook.
public struct ApplyReport: Sendable, Equatable {
    public var dryRun = false
    /// Files written that did not exist.
    public var created: [String] = []
    /// Files written over an existing file.
    public var updated: [String] = []
    /// Extra files removed.
    public var deleted: [String] = []
    /// Directories removed because a deletion emptied them (`remove_subdirs_if_empty`).
    public var removedDirectories: [String] = []
    /// Container entries that the metadata does not list (ignored, as the reference ignores them).
    public var ignored: [String] = []
    public var errors: [ApplyIssue] = []

    public init() {}

    /// Whether anything in the tree changed.
    public var changedAnything: Bool {
        !created.isEmpty || !updated.isEmpty || !deleted.isEmpty || !removedDirectories.isEmpty
    }

    public func toJSON() -> JSON {
        ["dry_run": .bool(dryRun),
         "created": .array(created.map { .string($0) }),
         "updated": .array(updated.map { .string($0) }),
         "deleted": .array(deleted.map { .string($0) }),
         "removed_directories": .array(removedDirectories.map { .string($0) }),
         "ignored": .array(ignored.map { .string($0) }),
         "errors": .array(errors.map { $0.toJSON() })]
    }
}

/// What `unpack` wrote.
public struct UnpackReport: Sendable, Equatable {
    /// Entries written under the directory, in container order.
    public var entries: [String] = []
    /// Decompressed bytes of the entries.
    public var bytes = 0
    /// Where the metadata went (`<dir>/files_metadata.json`).
    public var metadataPath = ""

    public func toJSON() -> JSON {
        ["entries": .array(entries.map { .string($0) }), "bytes": JSON(bytes), "metadata": .string(metadataPath)]
    }
}
