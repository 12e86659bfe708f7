import Foundation

/// The tree `bin/install --destdir` stages from the release build (Swift runtime linked
/// statically), made once per test run and shared by InstallTests and PackageTests (bin/package
/// reuses the same build directory, so its build is incremental); and the private mount
/// namespace in which the staged tools run as they would on a server without Swift: the staged
/// /usr/local bound over /usr/local, the toolchain hidden under an empty read-only tmpfs, and
/// LD_LIBRARY_PATH unset.
enum ReleaseInstall {
    static let tools = ["cl-crypt", "cl-chunk", "cl-integrity", "cl-master", "cl-worker", "cl-dapi"]
    static let prefix = "/usr/local"

    /// Mounting needs root; the tests that need the namespace are skipped otherwise.
    static var namespaceAvailable: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
    }

    struct Staged: Sendable {
        let destdir: URL
        /// How long bin/install took (the release build dominates).
        let seconds: Double
        func path(_ relative: String) -> String { destdir.path + relative }
    }

    /// Stages the tree the first time it is asked for; a failure is kept and reported to every
    /// test that asks.
    static let staged: Result<Staged, HarnessTimeout> = {
        let destdir = ToolRunner.packageRoot.appendingPathComponent(".build-install/test-stage")
        try? FileManager.default.removeItem(at: destdir)
        let start = ContinuousClock.now
        let r: ToolRunner.Result
        do {
            r = try ToolRunner.shell("bin/install --prefix \(prefix) --destdir \(quote(destdir.path))",
                                     in: ToolRunner.packageRoot)
        } catch { return .failure(HarnessTimeout(description: "cannot run bin/install: \(error)")) }
        let elapsed = ContinuousClock.now - start
        guard r.status == 0 else {
            return .failure(HarnessTimeout(description: "bin/install exited \(r.status): \(r.stderr.suffix(2000))"))
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("bin/install (release build with --static-swift-stdlib, then install) took \(Int(seconds)) s")
        return .success(Staged(destdir: destdir, seconds: seconds))
    }()

    /// What to hide: the toolchain's prefix (the directory above the `bin` holding the real
    /// swiftc), or only its `lib/swift` when the toolchain lives in /usr or /usr/local itself.
    static func toolchainToHide() throws -> String {
        let r = try ToolRunner.shell(#"readlink -f "$(command -v swiftc)""#)
        let swiftc = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.status == 0, swiftc.hasPrefix("/") else {
            throw HarnessTimeout(description: "cannot find swiftc on PATH to hide the toolchain: \(r.stderr)")
        }
        let prefix = URL(fileURLWithPath: swiftc).deletingLastPathComponent().deletingLastPathComponent().path
        return ["/", "/usr", "/usr/local"].contains(prefix) ? prefix + "/lib/swift" : prefix
    }

    /// The runtime library this test process itself loaded (from the toolchain), which the
    /// namespace must hide.
    static var loadedSwiftCore: String? {
        // Read to the end: /proc files report a size of 0, which String(contentsOfFile:) trusts.
        guard let data = FileHandle(forReadingAtPath: "/proc/self/maps")?.readDataToEndOfFile() else { return nil }
        let maps = String(decoding: data, as: UTF8.self)
        return maps.split(separator: "\n").lazy.compactMap { line -> String? in
            guard let slash = line.firstIndex(of: "/") else { return nil }
            let path = String(line[slash...])
            return path.hasSuffix("/libswiftCore.so") ? path : nil
        }.first
    }

    /// A command that enters a private mount namespace set up as described above, then execs its
    /// arguments (the PID stays the tool's own).
    static func launcher(_ staged: Staged) throws -> [String] {
        let hidden = try toolchainToHide()
        let setup = """
            set -e
            mount --bind \(quote(staged.path(prefix))) \(prefix)
            mount -t tmpfs -o ro,size=64k,mode=0755 clustertools-no-swift \(quote(hidden))
            exec env -u LD_LIBRARY_PATH "$0" "$@"
            """
        return ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", setup]
    }

    /// Runs `command` (already quoted for the shell) inside the namespace.
    static func run(_ staged: Staged, _ command: String) throws -> ToolRunner.Result {
        let launcher = try launcher(staged).map(quote).joined(separator: " ")
        return try ToolRunner.shell("\(launcher) /bin/sh -c \(quote(command))")
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }

    /// The file's permission bits, owner and group ids.
    static func mode(_ path: String) -> (mode: Int, uid: Int, gid: Int)? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path),
              let mode = a[.posixPermissions] as? Int, let uid = a[.ownerAccountID] as? Int,
              let gid = a[.groupOwnerAccountID] as? Int else { return nil }
        return (mode, uid, gid)
    }
}
