import Foundation

/// The reference's date format in health and status (`%Y-%m-%dT%H:%M:%S.%fZ`, UTC, microseconds),
/// with `n/a` for "never".
public enum ClusterDate {
    public static let never = "n/a"

    public static func format(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        var secs = time_t(floor(t))
        var micros = Int(((t - floor(t)) * 1_000_000).rounded())
        if micros >= 1_000_000 { secs += 1; micros -= 1_000_000 }
        var tmv = tm()
        gmtime_r(&secs, &tmv)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1,
                      Int(tmv.tm_mday), Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec), micros)
    }

    public static func format(_ date: Date?) -> String { date.map(format) ?? never }

    /// Parses the format back (nil for `n/a` or anything else).
    public static func parse(_ text: String) -> Date? {
        guard text != never else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        return f.date(from: text)
    }

    /// Seconds between two dates as `cluster_control -i more` prints them: 3 decimals, at least
    /// 0.001, `n/a` when either is missing.
    public static func duration(_ start: String, _ end: String) -> String {
        guard let s = parse(start), let e = parse(end) else { return never }
        return String(format: "%.3fs", max(0.001, e.timeIntervalSince(s)))
    }
}
