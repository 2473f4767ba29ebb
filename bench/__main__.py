"""python3 dev.py bench [decision] [cold_start] [aws_calls] [cost] [throughput] [memory] [fault_harness] [--quick] [--orders N]"""

from __future__ import annotations

import argparse
import sys

from bench import aws_calls, cold_start, cost, decision, fault_harness, memory, throughput

BENCHMARKS = {"decision": decision.main, "cold_start": cold_start.main, "aws_calls": aws_calls.main, "cost": cost.main,
              "throughput": throughput.main, "memory": memory.main,
              "fault_harness": fault_harness.main}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="default: all")
    parser.add_argument("--quick", action="store_true", help="fewer samples (CI smoke run)")
    parser.add_argument("--orders", type=int, help="fault_harness only: how many orders (default 1,000; 40 with --quick)")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names or list(BENCHMARKS):
        extra = {"orders": args.orders} if name == "fault_harness" and args.orders else {}
        status |= BENCHMARKS[name](quick=args.quick, **extra)
    return status


if __name__ == "__main__":
    sys.exit(main())
