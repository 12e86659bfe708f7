import Foundation

/// Every target, by the name FUZZ_TARGET selects.
enum FuzzTargets {
    static let all: [FuzzTarget] = [
        FrameDecoderTarget.target, ConnectionTarget.target, ContainerTarget.target, JSONTarget.target,
        AgentPayloadTarget.target, DapiRequestTarget.target, HelloTarget.target, ClusterConfigTarget.target,
        FernetTarget.target,
    ]

    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
        guard let t = all.first(where: { $0.name == name }) else {
            writeError("cl-fuzz: set FUZZ_TARGET to one of: \(all.map(\.name).joined(separator: ", "))\n")
            exit(64)
        }
        return t
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
/// libFuzzer's driver, which its own `main` would call.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`; with libFuzzer it hands over to
/// the fuzzing driver.
@_cdecl("cl_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}
#else
/// Without libFuzzer: runs the files (or every file of the directories) given through the
/// selected target, so a corpus or a saved crash replays in an ordinary build.
@main struct Replay {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "--list" {
            for t in FuzzTargets.all { print("\(t.name)\t\(t.summary)") }
            return
        }
        let target = FuzzTargets.selected
        var files: [String] = []
        for a in arguments {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: a, isDirectory: &isDir), isDir.boolValue {
                files += try FileManager.default.contentsOfDirectory(atPath: a).sorted().map { a + "/" + $0 }
            } else {
                files.append(a)
            }
        }
        for f in files {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: f)))
            bytes.withUnsafeBytes { target.run($0) }
        }
        print("\(target.name): \(files.count) inputs replayed")
    }
}
#endif
