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


def test_the_aws_calls_benchmark_counts_each_path_by_function_and_operation(capsys, monkeypatch):
    from bench import aws_calls

    original = aws_calls.run
    monkeypatch.setattr(aws_calls, "run", lambda orders: original(2))
    assert aws_calls.main(quick=True) == 0
    output = capsys.readouterr().out
    for path in ("happy", "reroute", "override"):
        assert f"{path}: " in output
    assert "DecideFunction               dynamodb:TransactWriteItems" in output
    assert "PublishFunction              sqs:SendMessage" in output
    assert "happy path:" in output and "(goal <= 4:" in output


def test_the_decision_ab_compares_two_revisions_side_by_side(capsys):
    from bench import decision_ab

    assert decision_ab.main(["HEAD", "--rounds", "1", "--decisions", "50", "--cell", "1x5"]) == 0
    output = capsys.readouterr().out
    assert "A HEAD" in output and "B WORKTREE" in output and "B/A p50" in output
