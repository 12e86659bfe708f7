import Foundation
import Testing

/// bin/package: the Debian package of the installed tree, inspected with dpkg-deb, checked by
/// lintian, then installed on this machine and purged again.
@Suite(.serialized) struct PackageTests {
    /// The package built once for this suite (after ReleaseInstall staged the release build, so
    /// bin/package's own bin/install only relinks nothing).
    static let built: Result<String, HarnessTimeout> = {
        if case .failure(let e) = ReleaseInstall.staged { return .failure(e) }
        let out = ToolRunner.packageRoot.appendingPathComponent(".build-install/test-deb")
        try? FileManager.default.removeItem(at: out)
        try? FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        guard let r = try? ToolRunner.shell("bin/package --output \(ReleaseInstall.quote(out.path))", in: ToolRunner.packageRoot) else {
            return .failure(HarnessTimeout(description: "cannot run bin/package"))
        }
        let path = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.status == 0, path.hasSuffix(".deb") else {
            return .failure(HarnessTimeout(description: "bin/package exited \(r.status): \(r.stderr.suffix(2000))"))
        }
        return .success(path)
    }()

    static func field(_ info: String, _ name: String) -> String? {
        info.split(separator: "\n").first { $0.hasPrefix(" \(name): ") }.map { String($0.dropFirst(name.count + 3)) }
    }

    @Test func controlFieldsAndMaintainerScripts() throws {
        let deb = try Self.built.get()
        let r = try ToolRunner.shell("dpkg-deb --info \(ReleaseInstall.quote(deb))")
        #expect(r.status == 0, "\(r.stderr)")
        let info = r.stdoutText
        #expect(Self.field(info, "Package") == "clustertools")
        let version = try ToolRunner.shell("cl-crypt --version").stdoutText.split(separator: " ").first.map(String.init)
        #expect(Self.field(info, "Version") == "\(version ?? "?")-1")
        let depends = Self.field(info, "Depends") ?? ""
        let names = Set(depends.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? "" })
        // The libraries the tools load, found by their sonames; no Swift runtime package.
        for lib in ["libc6", "libssl3", "zlib1g", "libjansson4", "libsqlite3-0", "adduser"] {
            #expect(names.contains(lib), "Depends lacks \(lib): \(depends)")
        }
        #expect(!depends.contains("swift"))
        for script in ["postinst", "prerm", "postrm", "conffiles", "md5sums"] {
            #expect(info.contains(" \(script)"), "no \(script) in \(info)")
        }
        let conffiles = try ToolRunner.shell("dpkg-deb --ctrl-tarfile \(ReleaseInstall.quote(deb)) | tar -xO ./conffiles").stdoutText
        #expect(conffiles == "/etc/logrotate.d/clustertools\n")
    }

    /// Every file where Debian puts it, root-owned, with its mode.
    @Test func contentsAndModes() throws {
        let deb = try Self.built.get()
        let r = try ToolRunner.shell("dpkg-deb --contents \(ReleaseInstall.quote(deb))")
        #expect(r.status == 0, "\(r.stderr)")
        var entries = [String: (mode: String, owner: String)]()
        for line in r.stdoutText.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6 else { continue }
            entries[String(f[5].dropFirst())] = (String(f[0]), String(f[1]))
        }
        var want = ["/usr/share/doc/clustertools/copyright": "-rw-r--r--",
                    "/usr/share/doc/clustertools/changelog.Debian.gz": "-rw-r--r--",
                    "/usr/lib/systemd/system/cl-master.service": "-rw-r--r--",
                    "/usr/lib/systemd/system/cl-worker.service": "-rw-r--r--",
                    "/etc/logrotate.d/clustertools": "-rw-r--r--"]
        for tool in ReleaseInstall.tools {
            want["/usr/bin/\(tool)"] = "-rwxr-xr-x"
            want["/usr/share/man/man1/\(tool).1.gz"] = "-rw-r--r--"
            want["/usr/share/bash-completion/completions/\(tool)"] = "-rw-r--r--"
            want["/usr/share/zsh/vendor-completions/_\(tool)"] = "-rw-r--r--"
            want["/usr/share/fish/vendor_completions.d/\(tool).fish"] = "-rw-r--r--"
        }
        for (path, mode) in want {
            #expect(entries[path]?.mode == mode, "\(path): \(String(describing: entries[path]))")
        }
        for (path, entry) in entries {
            #expect(entry.owner == "root/root", "\(path) owned by \(entry.owner)")
            #expect(!path.hasSuffix(".1") && !path.hasSuffix(".5"), "\(path) is not compressed")
        }
        #expect(!entries.keys.contains { $0.hasPrefix("/usr/local") || $0.hasPrefix("/etc/clustertools") })
    }

    /// lintian finds no error and no warning (the tags we override carry their reason in
    /// packaging/debian/lintian-overrides).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/lintian"), "needs lintian (bin/setup installs it)"))
    func lintianIsClean() throws {
        let deb = try Self.built.get()
        let r = try ToolRunner.shell("lintian --fail-on error,warning \(ReleaseInstall.quote(deb))")
        let findings = r.stdoutText.split(separator: "\n").filter { $0.hasPrefix("E: ") || $0.hasPrefix("W: ") }
        #expect(r.status == 0 && findings.isEmpty, "\(r.stdoutText)\(r.stderr)")
    }

    static var dpkgFree: Bool {
        // dpkg takes fcntl locks on these; a running apt or dpkg holds them.
        let r = try? ToolRunner.shell(#"python3 -c 'import fcntl,sys; [fcntl.lockf(open(p, "a"), fcntl.LOCK_EX | fcntl.LOCK_NB) for p in sys.argv[1:]]' /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock"#)
        return r?.status == 0
    }
    static var machineIsFree: Bool {
        // Never touch a clustertools the machine already has, nor a user of that name.
        (try? ToolRunner.shell("! dpkg-query -W -f '${Status}' clustertools 2>/dev/null | grep -q installed && ! getent passwd clustertools && ! getent group clustertools"))?.status == 0
    }

    /// Installs the package on this machine, checks what its scripts made, reinstalls over an
    /// existing configuration, then purges it: nothing of it is left.
    @Test(.enabled(if: geteuid() == 0, "needs root to install a package"),
          .enabled(if: dpkgFree, "dpkg is busy (another apt or dpkg holds its lock)"),
          .enabled(if: machineIsFree, "clustertools is already installed here, or its user exists"))
    func installsOnThisMachineAndPurgesClean() throws {
        let deb = try Self.built.get()
        defer { _ = try? ToolRunner.shell("dpkg --purge clustertools; rm -rf /etc/clustertools /var/lib/clustertools; deluser --system clustertools; delgroup --system clustertools") }
        let install = try ToolRunner.shell("dpkg -i \(ReleaseInstall.quote(deb))", environment: ["DEBIAN_FRONTEND": "noninteractive"])
        try #require(install.status == 0, "\(install.stdoutText)\(install.stderr)")

        // The service user and group: a system account without a login.
        func entry(_ database: String) throws -> [Substring] {
            try ToolRunner.shell("getent \(database) clustertools").stdoutText
                .trimmingCharacters(in: .newlines).split(separator: ":", omittingEmptySubsequences: false)
        }
        let user = try entry("passwd")
        try #require(user.count == 7, "no clustertools user")
        let group = try entry("group")
        try #require(group.count == 4, "no clustertools group")
        let uid = Int(user[2]) ?? -1, gid = Int(group[2]) ?? -1
        #expect(uid > 0 && uid < 1000 && Int(user[3]) == gid)
        #expect(user[5] == "/var/lib/clustertools")
        #expect(user[6].hasSuffix("nologin") || user[6].hasSuffix("false"), "\(user[6])")
        // The configuration directory and the node root.
        let etc = try #require(ReleaseInstall.mode("/etc/clustertools"))
        #expect(etc.mode == 0o750 && etc.uid == 0 && etc.gid == gid)
        let state = try #require(ReleaseInstall.mode("/var/lib/clustertools"))
        #expect(state.mode == 0o750 && state.uid == uid && state.gid == gid)
        // The files, and the tools run from where the package put them.
        let listed = try ToolRunner.shell("dpkg -L clustertools").stdoutText.split(separator: "\n").map(String.init)
        for tool in ReleaseInstall.tools {
            #expect(listed.contains("/usr/bin/\(tool)"))
            let r = try ToolRunner.shell("env -u LD_LIBRARY_PATH /usr/bin/\(tool) --version")
            #expect(r.status == 0 && r.stdoutText.contains("wire-compatible"), "\(tool): \(r.stderr)")
        }
        #expect(FileManager.default.fileExists(atPath: "/etc/logrotate.d/clustertools"))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            for unit in ["cl-master.service", "cl-worker.service"] {
                let r = try ToolRunner.shell("systemd-analyze verify --man=no /usr/lib/systemd/system/\(unit)")
                #expect(r.status == 0 && r.stderr.isEmpty, "\(unit): \(r.stderr)")
            }
        }

        // An administrator's configuration survives a reinstall, and its directory mode too.
        try Data("{\"keep\": true}\n".utf8).write(to: URL(fileURLWithPath: "/etc/clustertools/cluster.json"))
        chmod("/etc/clustertools", 0o700)
        let again = try ToolRunner.shell("dpkg -i \(ReleaseInstall.quote(deb))")
        #expect(again.status == 0, "\(again.stderr)")
        #expect((try? String(contentsOfFile: "/etc/clustertools/cluster.json", encoding: .utf8)) == "{\"keep\": true}\n")
        #expect(ReleaseInstall.mode("/etc/clustertools")?.mode == 0o700)

        // Purge with the configuration still there: it and the user owning it are kept.
        let keep = try ToolRunner.shell("dpkg --purge clustertools")
        #expect(keep.status == 0, "\(keep.stderr)")
        #expect(keep.stderr.contains("kept /etc/clustertools"), "\(keep.stderr)")
        #expect(FileManager.default.fileExists(atPath: "/etc/clustertools/cluster.json"))
        #expect(try ToolRunner.shell("getent passwd clustertools").status == 0)

        // Reinstall, empty the configuration, purge: nothing is left.
        try #require(try ToolRunner.shell("dpkg -i \(ReleaseInstall.quote(deb))").status == 0)
        try FileManager.default.removeItem(atPath: "/etc/clustertools/cluster.json")
        let purge = try ToolRunner.shell("dpkg --purge clustertools")
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect(try ToolRunner.shell("dpkg-query -W -f '${Status}' clustertools 2>/dev/null | grep -q installed").status != 0)
        for path in ["/usr/bin/cl-master", "/etc/logrotate.d/clustertools", "/etc/clustertools",
                     "/var/lib/clustertools", "/usr/lib/systemd/system/cl-master.service"] {
            #expect(!FileManager.default.fileExists(atPath: path), "\(path) is left")
        }
        #expect(try ToolRunner.shell("getent passwd clustertools").status != 0, "the user is left")
        #expect(try ToolRunner.shell("getent group clustertools").status != 0, "the group is left")
    }
}
