"""The fault harness at CI size: every fault kind of issue 6 (duplicates, some over four
simulated hours, out-of-order deliveries, throttled and failing AWS calls, Lambda timeouts
mid-handler, a crash at every step boundary, a secret rotation, poison messages redriven,
forged, malformed, oversized and replayed inputs) injected at least once, and every
figure zero. (Full size: python3 dev.py bench fault_harness --orders 10000.)"""

from bench import fault_harness


def test_nothing_is_lost_doubled_misdelivered_unchained_or_unaccounted_under_every_injected_fault():
    report = fault_harness.run(orders=40, seed=11)
    fault_harness.print_report(report)
    assert report.never_injected == []
    assert report.faults["Shopify retry re-send (8 over 4 hours)"] >= 8
    assert report.consequences["process restarts after a crash"] == sum(
        count for kind, count in report.faults.items() if kind.startswith("crash: "))
    assert (report.lost, report.duplicated, report.unverified, report.misdelivered, report.unaccounted) == ([], [], [], [], [])
