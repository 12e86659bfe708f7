import ClusterKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the worker's `--on-change` command (`/bin/sh -c CMD`) with a report on its stdin and
/// waits for it to exit.
///
/// Foundation's `FileHandle.write` is not used for stdin: in corelibs Foundation it traps when
/// the child has exited without reading (EPIPE), and a report larger than the pipe buffer
/// (64 KiB) blocks it with no way to tell a slow reader from one that will never read. A raw
/// `write(2)` loop treats EPIPE as what it means here, the hook did not read everything, which is
/// the hook's choice and not an error.
enum HookRunner {
    /// Blocking: spawns, writes all of `input` (or as much as the hook reads), closes stdin and
    /// waits. Returns the exit status, or 128 + the signal number when a signal ended the hook (as
    /// the shell reports it). The caller runs it on a thread pool.
    static func run(command: String, input: [UInt8]) throws -> Int32 {
        HookRunner.ignoreSIGPIPE
        var fds: [Int32] = [-1, -1]
        guard pipeCloseOnExec(&fds) == 0 else {
            throw ClusterError.io("cannot run --on-change: pipe: \(errnoDescription(errno))")
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let pid: pid_t
        do {
            pid = try spawn(command: command, stdin: readEnd)
        } catch {
            close(readEnd)
            close(writeEnd)
            throw error
        }
        // The parent must not hold the read end, or a hook that exits without reading leaves a
        // reader behind and the write blocks forever instead of failing with EPIPE.
        close(readEnd)
        let writeError = writeAll(writeEnd, input)
        close(writeEnd)
        let status = try wait(pid)
        if let writeError {
            throw ClusterError.io("cannot write the report to --on-change: \(errnoDescription(writeError))")
        }
        return status
    }

    /// A write to a pipe whose reader has gone raises SIGPIPE, which kills the process by default;
    /// `MSG_NOSIGNAL` exists for sockets only and `F_SETNOSIGPIPE` on macOS only, so the signal is
    /// ignored process-wide, once (SwiftNIO does the same), and the write fails with EPIPE instead.
    private static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    private static func pipeCloseOnExec(_ fds: inout [Int32]) -> Int32 {
        #if canImport(Darwin)
        guard pipe(&fds) == 0 else { return -1 }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return 0
        #else
        // Atomically close-on-exec: a process spawned by another thread meanwhile must not
        // inherit the write end, or this hook never sees the end of its input. Glibc's module
        // map hides the GNU extensions, so they are looked up at run time.
        return fds.withUnsafeMutableBufferPointer { GNUExtensions.pipe2($0.baseAddress!, O_CLOEXEC) }
        #endif
    }

    private static func spawn(command: String, stdin readEnd: Int32) throws -> pid_t {
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        var attr: posix_spawnattr_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        var attr = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, 0)
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // The ignored SIGPIPE would survive exec and change how `cmd | head` behaves inside the
        // hook, and a signal mask of the spawning thread would be inherited too: the hook starts
        // with the defaults a shell expects. So do SIGTERM, SIGINT and SIGHUP, which the daemon
        // ignores to take them through its own handlers.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var flags = Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
        #if canImport(Darwin)
        // Descriptors the daemon opened without close-on-exec (sockets, the agent database)
        // would otherwise live as long as the hook.
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        posix_spawn_file_actions_addinherit_np(&actions, 0)
        posix_spawn_file_actions_addinherit_np(&actions, 1)
        posix_spawn_file_actions_addinherit_np(&actions, 2)
        #else
        if let closefrom = GNUExtensions.addClosefrom { _ = closefrom(&actions, 3) }
        #endif
        posix_spawnattr_setflags(&attr, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ)
        guard rc == 0 else { throw ClusterError.io("cannot run --on-change: \(errnoDescription(rc))") }
        return pid
    }

    /// Writes until done, EPIPE (the hook closed its stdin or exited: it read what it wanted) or
    /// another error, which is returned.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n >= 0 { offset += n; continue }
            let err = errno
            if err == EINTR { continue }
            if err == EPIPE { return nil }
            return err
        }
        return nil
    }

    private static func wait(_ pid: pid_t) throws -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw ClusterError.io("cannot wait for --on-change: \(errnoDescription(errno))") }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}

#if !canImport(Darwin)
/// The glibc calls `Glibc` does not import (they sit behind `_GNU_SOURCE`).
private enum GNUExtensions {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        // RTLD_DEFAULT is a null handle on glibc and musl.
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
    }

    /// glibc 2.9 and later; without it (musl), the flag is set right after, which leaves a
    /// window in which a concurrent spawn could inherit the ends.
    static func pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32 {
        if let f = pipe2Symbol { return f(fds, flags) }
        guard pipe(fds) == 0 else { return -1 }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return 0
    }

    private static let pipe2Symbol = symbol("pipe2", as: Pipe2.self)
    /// glibc 2.34 and later; older systems leave descriptors opened without close-on-exec open
    /// in the hook, as Foundation's Process does.
    static let addClosefrom = symbol("posix_spawn_file_actions_addclosefrom_np", as: AddClosefrom.self)
}
#endif
