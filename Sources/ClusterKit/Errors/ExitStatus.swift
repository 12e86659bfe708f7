/// Process exit statuses, after sysexits(3). Every tool maps its outcome onto these.
public enum ExitStatus: Int32, Sendable, CaseIterable {
    case ok = 0
    /// A check ran and found a difference (cl-integrity check, a failed sync step).
    case difference = 1
    case usage = 64
    case dataError = 65
    case noInput = 66
    case unavailable = 69
    case software = 70
    /// An output file cannot be created (it exists, or its directory refuses it).
    case cannotCreate = 73
    case ioError = 74
    case tempFail = 75
    case noPermission = 77
    case config = 78

    public var name: String {
        switch self {
        case .ok: return "EX_OK"
        case .difference: return "DIFFERENCE"
        case .usage: return "EX_USAGE"
        case .dataError: return "EX_DATAERR"
        case .noInput: return "EX_NOINPUT"
        case .unavailable: return "EX_UNAVAILABLE"
        case .software: return "EX_SOFTWARE"
        case .cannotCreate: return "EX_CANTCREAT"
        case .ioError: return "EX_IOERR"
        case .tempFail: return "EX_TEMPFAIL"
        case .noPermission: return "EX_NOPERM"
        case .config: return "EX_CONFIG"
        }
    }
}
