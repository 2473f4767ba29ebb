"""The benchmarks stay runnable: a quick run prints every cell and both verdicts.
(Timing is judged by reading the benchmark's output, never asserted in a test.)"""

from bench import cold_start, decision


def test_the_decision_benchmark_runs_every_cell_against_its_baseline(capsys, monkeypatch):
    monkeypatch.setattr(decision, "LINES", (1, 10))
    monkeypatch.setattr(decision, "WAREHOUSES", (5, 20))
    assert decision.main(quick=True) == 0
    output = capsys.readouterr().out
    rows = [line for line in output.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert [tuple(map(int, row.split()[:2])) for row in rows] == [(1, 5), (1, 20), (10, 5), (10, 20)]
    assert "x first-fit" in output and "p99 at 10 lines x 20 warehouses" in output
    assert "no worse than linear" in output


def test_the_cold_start_benchmark_imports_a_handler_beside_the_bare_baseline(capsys):
    assert cold_start.main(quick=True, only=("DecideFunction",)) == 0
    output = capsys.readouterr().out
    assert "(bare boto3 handler)" in output and "DecideFunction" in output
    assert "x the bare boto3 handler (goal <= 1.3x" in output
    imports, invocations = output.split("\ncold invocation:")
    invocations, layer = invocations.split("the layer as Lambda runs it:")
    [row] = [line.split() for line in invocations.splitlines() if line.startswith("DecideFunction")]
    runs, imported, handled, total = int(row[1]), *map(float, row[2:5])
    assert runs == 1 and imported > 0 and handled > 0 and abs(imported + handled - total) < 0.2
    assert "slowest cold invocation: DecideFunction" in output
    if cold_start.runtime_python() is None:
        assert "not measured: no Python 3.13" in layer
    else:  # built by the layer's Makefile, imported from it with and without its bytecode
        [row] = [line.split() for line in layer.splitlines() if line.startswith("DecideFunction")]
        assert len(row) == 5 and all(float(value) > 0 for value in row[1:])
        assert "the layer's bytecode saves" in layer


def test_the_aws_calls_benchmark_counts_each_path_by_function_and_operation(capsys, monkeypatch):
    from bench import aws_calls

    original = aws_calls.run
    monkeypatch.setattr(aws_calls, "run", lambda orders: original(2))
    assert aws_calls.main(quick=True) == 0
    output = capsys.readouterr().out
    for path in ("happy", "reroute", "override"):
        assert f"{path}: " in output
    assert "DecideFunction               dynamodb:TransactWriteItems" in output
    assert "PublishFunction              sqs:SendMessageBatch" in output
    assert "happy path under load: a burst of 20 webhooks" in output
    assert "happy path:" in output and "(goal <= 4:" in output


def test_the_cost_benchmark_prices_each_path_by_service_against_the_idempotency_baseline(capsys, monkeypatch):
    from bench import cost

    assert cost.item_bytes({"pk": {"S": "abc"}, "n": {"N": "12345"}, "m": {"M": {"a": {"BOOL": True}}}}) == 5 + 5 + 7
    original = cost.run
    monkeypatch.setattr(cost, "run", lambda orders, keep: original(2, keep))
    assert cost.main(quick=True) == 0
    output = capsys.readouterr().out
    totals = {}
    for block in output.split("\n\n"):
        lines = block.splitlines()
        if lines and lines[0].endswith("billed requests per order"):
            rows = {line.split()[0]: line.split() for line in lines[2:]}
            totals[lines[0].split()[0]] = rows["total"]
            # Several calls (the happy path's 4: ingest's receipt, decide's read and write, publish's
            # watches; 5 until decide read HEAD with the tenant's keys); in a burst, decide's read
            # and write and the watches are shared by a batch's orders, the receipt is not;
            # > $1 per million.
            least = 1 if lines[0].startswith("burst") else 4
            assert float(rows["DynamoDB"][1]) >= least and float(rows["DynamoDB"][-3]) > 1.0
            assert "WRU" in " ".join(rows["DynamoDB"]) and "GB-s arm64" in " ".join(rows["Lambda"])
    assert list(totals) == ["happy", "reroute", "escalation", "burst:"]
    dollars = [float(totals[path][-3]) for path in ("happy", "reroute", "escalation")]
    assert 5 < dollars[0] < dollars[1] < dollars[2] < 2000, dollars  # each path adds to the one before
    # Under load, decide and publish take batches: fewer invocations, SQS receives and sends.
    assert float(totals["burst:"][-3]) < dollars[0] and float(totals["burst:"][1]) < float(totals["happy"][1])
    burst_dynamodb = next(line.split() for line in output.split("burst:")[1].splitlines() if line.strip().startswith("DynamoDB"))
    happy_dynamodb = next(line.split() for line in output.split("happy path")[1].splitlines() if line.strip().startswith("DynamoDB"))
    assert float(burst_dynamodb[1]) < float(happy_dynamodb[1]) - 2  # decide's read and write: one per batch
    for row in totals.values():  # idempotency costs more than Meshline's own markers, but not wildly more
        assert 0.5 < float(row[-1]) < 1.0, row
    assert "Step Functions" in output.split("escalation path")[1] and "Step Functions" not in output.split("reroute path")[0]
    assert "$0.625 per 1,000,000 DynamoDB on-demand write request units" in output


def test_the_throughput_benchmark_sets_the_stack_beside_the_same_writes_replayed(capsys, monkeypatch):
    from bench import throughput

    kept = {}
    original = throughput.run
    monkeypatch.setattr(throughput, "run", lambda rounds, per_round: kept.setdefault("run", original(2, 3)))
    assert throughput.main(quick=True) == 0
    ours, baseline, writes = kept["run"]
    assert len(ours) == len(baseline) == 2 and all(seconds > 0 for seconds in ours + baseline)
    operations = {call.operation for call in writes}
    assert {"dynamodb:TransactWriteItems", "sqs:SendMessage", "sqs:SendMessageBatch", "s3:PutObject", "events:PutEvents"} <= operations
    assert 5 <= len(writes) / 6 <= 10  # the happy path's writes and sends, per order
    for call in writes:  # replayed with fresh keys of the same length
        again = throughput.renamed(call.params)
        assert len(repr(again)) == len(repr(call.params))
        assert again != call.params or call.operation == "events:PutEvents"
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith(("1 ", "2 ", "all "))]
    assert [row[0] for row in rows] == ["1", "2", "all"]
    for row in rows:
        assert 0.05 < float(row[3]) < 1.5, row  # the stack does more than the bare writes, within reason


def test_the_memory_benchmark_measures_every_function_of_the_template_beside_a_bare_handler(capsys, monkeypatch):
    from bench import memory
    from meshline_local.provision import sam_functions

    kept = {}
    original = memory.run
    monkeypatch.setattr(memory, "run", lambda lines, batch_orders: kept.setdefault("run", original(lines, batch_orders)))
    assert memory.main(quick=True) == 0
    invocations, bare, sizes = kept["run"]
    assert set(invocations) == set(sizes) == set(sam_functions()) | {memory.FULL_BATCH}
    [full] = invocations[memory.FULL_BATCH]
    assert full.records == 10 and full.event_kb > 10 * invocations["PublishFunction"][0].event_kb * 0.9  # every order's export
    assert 20_000 < bare.after_import_kb <= bare.peak_kb < 300_000  # an interpreter with boto3: tens of MB
    assert len(invocations["PublishFunction"]) >= 5  # one per stored version and quarantine the order caused
    largest = {name: max(runs, key=lambda peak: peak.peak_kb) for name, runs in invocations.items()}
    for name, peak in largest.items():
        assert 0 <= peak.handler_growth_kb < 500_000 and peak.peak_kb >= peak.handler_peak_kb, (name, peak)
        assert peak.event_kb > 0.1, name
        if name != "ServeConsoleFunction":  # the console's page needs no AWS client; every other function makes one
            assert peak.peak_kb > bare.after_import_kb, name
    for name, runs in invocations.items():  # each one a fresh interpreter: an import, then the event, both timed
        assert all(0 < run.import_seconds < 30 and 0 < run.handler_seconds < 60 for run in runs), name
    assert largest["IngestFunction"].event_kb > 20  # the 25-line webhook itself
    output = capsys.readouterr().out
    for name, peak in largest.items():
        [row] = [line for line in output.splitlines() if line[:30].strip() == name]
        assert row.endswith("OVER") == (peak.peak_kb / 1024 / sizes[name] > memory.FLAG_SHARE), row
    assert "(bare boto3 handler)" in output and "over 50% of MemorySize" in output


def test_the_decision_ab_compares_two_revisions_side_by_side(capsys):
    from bench import decision_ab

    assert decision_ab.main(["HEAD", "--rounds", "1", "--decisions", "50", "--cell", "1x5"]) == 0
    output = capsys.readouterr().out
    assert "A HEAD" in output and "B WORKTREE" in output and "B/A p50" in output
