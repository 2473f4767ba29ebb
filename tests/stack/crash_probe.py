"""A local-stack process that dies at a chosen step boundary, for the crash tests.

    python -m tests.stack.crash_probe ENDPOINT STATE_DIR after-write   decide, then wait to be killed
    python -m tests.stack.crash_probe ENDPOINT STATE_DIR after-send    publish, die before the checkpoint
    python -m tests.stack.crash_probe ENDPOINT STATE_DIR resume        settle everything, as a restart does
"""

import os
import signal
import sys
import time

from meshline_local import runtime as runtime_module
from meshline_local.stack import start_runtime


def main(endpoint_url: str, state_dir: str, mode: str) -> None:
    runtime = start_runtime(endpoint_url, stage="local", state_dir=state_dir)
    if mode == "after-write":
        inbox = next(
            source for source in runtime.sources
            if isinstance(source, runtime_module.SqsSource) and source.queue_url == runtime.deployed.physical["OrderInboxQueue"]
        )
        while not inbox.poll(runtime.invoker):
            time.sleep(0.05)
        print("WRITTEN", file=sys.__stdout__, flush=True)
        time.sleep(600)  # killed here: the export is stored, nothing is published
    elif mode == "after-send":
        def die(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)  # publication happened; its checkpoint never will

        runtime_module.Checkpoints.set = die
        runtime.settle()
    elif mode == "resume":
        runtime.settle()
        print("SETTLED", file=sys.__stdout__, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
