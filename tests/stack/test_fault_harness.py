"""The fault harness at CI size: duplicates, out-of-order deliveries, throttled AWS calls,
forged and malformed inputs; every figure must be zero. (Full size: python3 dev.py bench fault_harness.)"""

from bench import fault_harness


def test_nothing_is_lost_doubled_misdelivered_or_unchained_under_injected_faults():
    report = fault_harness.run(orders=40, throttle_rate=0.05, seed=11)
    fault_harness.print_report(report)
    assert report.faults["duplicate delivery"] > 0 and report.faults["throttled AWS calls"] > 0
    assert report.faults["cancellation before creation"] + report.faults["forged"] + report.faults["malformed"] > 0
    assert (report.lost, report.duplicated, report.unverified, report.misdelivered) == ([], [], [], [])
