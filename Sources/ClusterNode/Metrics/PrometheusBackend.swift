import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

extension NodeMetrics {
    private static let prometheus = NIOLockedValueBox<PrometheusCollectorRegistry?>(nil)

    /// The registry `/metrics` writes out, once `bootstrap()` ran.
    static var registry: PrometheusCollectorRegistry? { prometheus.withLockedValue { $0 } }

    /// Makes swift-prometheus the process's metrics backend. Call it before anything records
    /// (`NodeContext` does, when `metrics.listen` is set); later calls do nothing.
    public static func bootstrap() {
        prometheus.withLockedValue { r in
            guard r == nil else { return }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(HelpfulPrometheusFactory(registry: registry))
            r = registry
        }
    }
}

/// swift-prometheus behind the swift-metrics API, with each metric's help text and buckets from
/// `NodeMetrics.Name` (the stock factory gives every metric an empty help).
struct HelpfulPrometheusFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry

    private func help(_ label: String) -> String { NodeMetrics.Name.help[label] ?? "" }

    func makeCounter(label: String, dimensions: [(String, String)]) -> CounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: help(label))
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> FloatingPointCounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: help(label))
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> RecorderHandler {
        guard aggregate else { return registry.makeGauge(name: label, labels: dimensions, help: help(label)) }
        return registry.makeValueHistogram(name: label, labels: dimensions, buckets: [1, 10, 100, 1000, 10000], help: help(label))
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> MeterHandler {
        registry.makeGauge(name: label, labels: dimensions, help: help(label))
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> TimerHandler {
        let buckets = NodeMetrics.Name.durationBuckets[label] ?? [.milliseconds(1), .milliseconds(10), .milliseconds(100), .seconds(1), .seconds(10)]
        return registry.makeDurationHistogram(name: label, labels: dimensions, buckets: buckets, help: help(label))
    }

    func destroyCounter(_ handler: CounterHandler) {
        if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) }
    }

    func destroyFloatingPointCounter(_ handler: FloatingPointCounterHandler) {
        if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) }
    }

    func destroyRecorder(_ handler: RecorderHandler) {
        if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) }
    }

    func destroyMeter(_ handler: MeterHandler) {
        if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) }
    }

    func destroyTimer(_ handler: TimerHandler) {
        if let h = handler as? DurationHistogram { registry.unregisterDurationHistogram(h) }
    }
}
