"""`python3 dev.py sign OPERATOR`: an operator's signing tool, for the local stack.

In production an operator signs an override's payload with their own KMS key
(`alias/meshline-<stage>-operator-<operator>`, kms:Sign allowed to them only), e.g. with
`aws kms sign --message fileb://payload.json --message-type RAW --signing-algorithm
ECDSA_SHA_256`; Meshline never signs for anyone. On the local stack those keys live in
moto, so this command does the same against it: paste the payload the console shows
(or pass --payload-file), and paste back the key id and the signature it prints.

One trailing newline is dropped from the payload (a terminal adds one when pasting): the
canonical payload never ends with one. Nothing else is changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from meshline.dal.signatures import sign
from meshline_local.stack import DEFAULT_STATE_DIR, use_endpoint


def payload_bytes(raw: bytes) -> bytes:
    return raw.removesuffix(b"\n").removesuffix(b"\r")


def run_sign(args: argparse.Namespace) -> int:
    state = Path(args.state_dir) / "deployed.json"
    if not state.exists():
        raise SystemExit(f"no local stack found ({state} is missing): start one with 'python3 dev.py stack'")
    deployed = json.loads(state.read_text())
    use_endpoint(deployed["endpoint_url"])
    if args.payload_file:
        raw = Path(args.payload_file).read_bytes()
    else:
        if sys.stdin.isatty():
            print("Paste the payload to sign, then press Enter and Ctrl-D:", file=sys.stderr)
        raw = sys.stdin.buffer.read()
    payload = payload_bytes(raw)
    if not payload:
        raise SystemExit("nothing to sign: paste the payload the console shows")
    signature = sign(deployed["parameters"]["Stage"], args.operator, payload)
    if args.json:
        print(signature.model_dump_json())
    else:
        print(f"key id     {signature.key_id}")
        print(f"signature  {signature.value}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("sign", help="sign an override's payload as an operator, with their key in the local stack's KMS")
    parser.add_argument("operator", help="e.g. agency:alice")
    parser.add_argument("--payload-file", help="the payload, byte for byte (default: read from standard input)")
    parser.add_argument("--json", action="store_true", help="print the signature as the API's OperatorSignature")
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="the local stack's state directory")
    parser.set_defaults(run=run_sign)
