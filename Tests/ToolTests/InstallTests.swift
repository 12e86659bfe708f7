import Foundation
import Testing

/// bin/install: the release tools installed into a DESTDIR run where there is no Swift toolchain,
/// with their man pages, completions, units and logrotate file where the system looks for them.
@Suite(.serialized) struct InstallTests {
    static let expectedFiles: [String: Int] = {
        var files = [String: Int]()
        let p = ReleaseInstall.prefix
        for tool in ReleaseInstall.tools {
            files["\(p)/bin/\(tool)"] = 0o755
            files["\(p)/share/man/man1/\(tool).1"] = 0o644
            files["\(p)/share/bash-completion/completions/\(tool)"] = 0o644
            files["\(p)/share/zsh/site-functions/_\(tool)"] = 0o644
            files["\(p)/share/fish/vendor_completions.d/\(tool).fish"] = 0o644
        }
        files["\(p)/lib/systemd/system/cl-master.service"] = 0o644
        files["\(p)/lib/systemd/system/cl-worker.service"] = 0o644
        files["/etc/logrotate.d/clustertools"] = 0o644
        return files
    }()

    @Test func installsEveryFileWithItsMode() throws {
        let staged = try ReleaseInstall.staged.get()
        for (path, mode) in Self.expectedFiles {
            #expect(ReleaseInstall.mode(staged.path(path))?.mode == mode, "\(path)")
        }
        let man5 = ToolRunner.packageRoot.appendingPathComponent("man/man5")
        for page in (try? FileManager.default.contentsOfDirectory(atPath: man5.path)) ?? [] {
            #expect(ReleaseInstall.mode(staged.path("\(ReleaseInstall.prefix)/share/man/man5/\(page)"))?.mode == 0o644, "\(page)")
        }
        // The units name the installed binaries, not /usr/local/bin by accident of the source.
        let unit = try String(contentsOfFile: staged.path("\(ReleaseInstall.prefix)/lib/systemd/system/cl-master.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=\(ReleaseInstall.prefix)/bin/cl-master run --config /etc/clustertools/cluster.json"))
        let logrotate = try String(contentsOfFile: staged.path("/etc/logrotate.d/clustertools"), encoding: .utf8)
        #expect(logrotate.contains("/var/lib/clustertools/logs/cluster.log"))
        #expect(logrotate.contains("systemctl reload"))
    }

    /// Nothing in the binaries points at the toolchain: no run path, no Swift runtime or
    /// Foundation shared library, and the binaries are stripped.
    @Test func binariesDoNotLinkTheSwiftRuntime() throws {
        let staged = try ReleaseInstall.staged.get()
        for tool in ReleaseInstall.tools {
            let path = staged.path("\(ReleaseInstall.prefix)/bin/\(tool)")
            let r = try ToolRunner.shell("readelf -d \(ReleaseInstall.quote(path))")
            #expect(r.status == 0)
            #expect(!r.stdoutText.contains("RUNPATH") && !r.stdoutText.contains("RPATH"), "\(tool): \(r.stdoutText)")
            for lib in ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime"] {
                #expect(!r.stdoutText.contains("[\(lib)"), "\(tool) links \(lib) dynamically")
            }
            let symbols = try ToolRunner.shell("readelf -S \(ReleaseInstall.quote(path))")
            #expect(!symbols.stdoutText.contains(".symtab"), "\(tool) is not stripped")
        }
    }

    /// Each installed tool starts with the toolchain hidden: every library it loads resolves,
    /// and --version says what the built tools say.
    @Test(.enabled(if: ReleaseInstall.namespaceAvailable, "needs root for a private mount namespace (unshare -m)"))
    func everyToolRunsWithTheToolchainHidden() throws {
        let staged = try ReleaseInstall.staged.get()
        let hidden = try ReleaseInstall.toolchainToHide()
        let swiftCore = try #require(ReleaseInstall.loadedSwiftCore, "the test process loaded no libswiftCore.so")
        #expect(swiftCore.hasPrefix(hidden + "/"), "the runtime this test uses (\(swiftCore)) is not under \(hidden)")
        let expected = try ToolRunner.shell("cl-crypt --version").stdoutText
        #expect(expected.hasPrefix("0.") || expected.first?.isNumber == true)
        // Inside: the toolchain is gone, LD_LIBRARY_PATH too.
        let probe = try ReleaseInstall.run(staged, "test ! -e \(ReleaseInstall.quote(swiftCore)) && test -z \"${LD_LIBRARY_PATH+set}\" && echo hidden")
        #expect(probe.stdoutText == "hidden\n", "\(probe.stderr)")
        for tool in ReleaseInstall.tools {
            let bin = "\(ReleaseInstall.prefix)/bin/\(tool)"
            let ldd = try ReleaseInstall.run(staged, "ldd \(bin)")
            #expect(ldd.status == 0 && !ldd.stdoutText.contains("not found"), "\(tool): \(ldd.stdoutText)\(ldd.stderr)")
            #expect(!ldd.stdoutText.contains("swift"), "\(tool): \(ldd.stdoutText)")
            let r = try ReleaseInstall.run(staged, "\(bin) --version")
            #expect(r.status == 0, "\(tool): \(r.stderr)")
            #expect(r.stdoutText == expected, "\(tool)")
        }
    }

    /// A master `run` and a one-shot `cl-worker sync integrity --once`, both the installed copies
    /// with the toolchain hidden, over loopback: the worker ends up with the master's files.
    @Test(.enabled(if: ReleaseInstall.namespaceAvailable, "needs root for a private mount namespace (unshare -m)"))
    func installedMasterAndWorkerSync() async throws {
        let staged = try ReleaseInstall.staged.get()
        let h = try ClusterHarness("install")
        defer { h.stopAll() }
        h.toolsDirectory = "\(ReleaseInstall.prefix)/bin"
        h.launchPrefix = try ReleaseInstall.launcher(staged)
        let files = ["etc/rules/local_rules.xml": "<group name=\"installed,\"/>\n",
                     "etc/shared/default/agent.conf": "<agent_config/>\n"]
        try FileManager.default.createDirectory(at: h.root("master-node"), withIntermediateDirectories: true)
        try ClusterSyncTests.write(h.root("master-node"), files)
        let port = try await h.startMaster()
        let config = try h.writeConfig("worker-1", type: "worker", master: port)
        let r = try ReleaseInstall.run(staged, "\(ReleaseInstall.prefix)/bin/cl-worker sync integrity --once -c \(ReleaseInstall.quote(config))")
        #expect(r.status == 0, "\(r.stderr)")
        let outcome = try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any]
        #expect(outcome?["outcome"] as? String == "synced")
        #expect(ClusterSyncTests.tree(h.root("worker-1")) == ClusterSyncTests.tree(h.root("master-node")))
        #expect(ClusterSyncTests.tree(h.root("worker-1")).count == files.count)
    }

    /// The installed units, with their binaries where ExecStart says, pass systemd-analyze verify.
    @Test(.enabled(if: ReleaseInstall.namespaceAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"),
                   "needs root (a private mount namespace) and systemd-analyze"))
    func unitsPassSystemdAnalyzeVerify() throws {
        let staged = try ReleaseInstall.staged.get()
        for unit in ["cl-master.service", "cl-worker.service"] {
            let r = try ReleaseInstall.run(staged, "systemd-analyze verify --man=no \(ReleaseInstall.prefix)/lib/systemd/system/\(unit)")
            #expect(r.status == 0 && r.stderr.isEmpty && r.stdout.isEmpty, "\(unit): \(r.stdoutText)\(r.stderr)")
        }
        // The check is real: a unit with a typo fails it.
        let broken = try ReleaseInstall.run(staged, """
            d=$(mktemp -d) && sed 's/^Type=notify/Type=notfy/' \(ReleaseInstall.prefix)/lib/systemd/system/cl-master.service > "$d/cl-master.service" && \
            systemd-analyze verify --man=no "$d/cl-master.service"; rm -rf "$d"
            """)
        #expect(broken.stderr.contains("Failed to parse service type"), "\(broken.stderr)")
    }

    @Test func usageErrorsAreClear() throws {
        for (args, message) in [("--prefix relative", "--prefix must be an absolute path"),
                                ("--destdir", "--destdir needs a value"),
                                ("--frobnicate", "unknown argument '--frobnicate'")] {
            let r = try ToolRunner.shell("bin/install \(args)", in: ToolRunner.packageRoot)
            #expect(r.status == 64, "\(args)")
            #expect(r.stderr.hasPrefix("install: \(message)") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        let help = try ToolRunner.shell("bin/install --help", in: ToolRunner.packageRoot)
        #expect(help.status == 0 && help.stdoutText.contains("--static-swift-stdlib"))
        let pkg = try ToolRunner.shell("bin/package --output /nonexistent-dir", in: ToolRunner.packageRoot)
        #expect(pkg.status == 73 && pkg.stderr == "package: output directory /nonexistent-dir does not exist\n", "\(pkg.stderr)")
    }
}
