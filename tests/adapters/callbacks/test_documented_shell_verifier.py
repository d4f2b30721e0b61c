"""The shell verifier docs/callbacks.md shows, run as written against a callback the
sender really sent: the documentation cannot drift from what Auxot signs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auxot.adapters.callbacks.httpx_sender import HttpxCallbackSender
from auxot.adapters.net_guard import NetGuard
from auxot.application.ports import Callback
from auxot.domain.signing_secrets import format_secret
from tests.fakes.callback_receiver import CallbackReceiver, Received

DOC = Path(__file__).parents[3] / "docs" / "callbacks.md"
NEW = format_secret(os.urandom(32))
OLD = format_secret(os.urandom(32))

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("base64") is None,
    reason="the documented verifier needs openssl and base64",
)


def documented_script() -> str:
    found = re.search(r"<!-- verify\.sh -->\n```sh\n(.*?)```", DOC.read_text(), re.S)
    assert found, "docs/callbacks.md lost its verify.sh block"
    return found.group(1)


@pytest.fixture(scope="module")
def received() -> Iterator[Received]:
    """A callback signed during a rotation (two secrets), as the receiver got it."""
    body = '{"work_id": "work_1", "status": "completed", "output": {"note": "é\\n"}}\n'
    with CallbackReceiver() as receiver:
        sender = HttpxCallbackSender(NetGuard(allow=("127.0.0.1/32",)), allow_http=True)
        callback = Callback("msg_doc", receiver.url, body.encode(), (NEW, OLD), datetime.now(UTC))
        assert sender.send(callback).delivered
        yield receiver.wait_for(1)[0]


def verify(
    received: Received, secret: str, body: bytes, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body)
    env = {
        "PATH": os.environ["PATH"],
        "SECRET": secret,
        "WEBHOOK_ID": received.headers["webhook-id"],
        "WEBHOOK_TIMESTAMP": received.headers["webhook-timestamp"],
        "WEBHOOK_SIGNATURE": received.headers["webhook-signature"],
        "BODY_FILE": str(body_file),
    }
    return subprocess.run(
        ["bash", "-c", documented_script()],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("secret", [NEW, OLD], ids=["new secret", "old secret"])
def test_a_receiver_with_either_secret_finds_it_valid(
    received: Received, secret: str, tmp_path: Path
) -> None:
    done = verify(received, secret, received.body, tmp_path)
    assert (done.returncode, done.stdout) == (0, "valid\n"), done.stderr


def test_another_secret_is_refused(received: Received, tmp_path: Path) -> None:
    done = verify(received, format_secret(os.urandom(32)), received.body, tmp_path)
    assert (done.returncode, done.stderr) == (1, "no matching signature\n")


def test_a_changed_body_is_refused(received: Received, tmp_path: Path) -> None:
    done = verify(received, NEW, received.body.replace(b"completed", b"failed"), tmp_path)
    assert (done.returncode, done.stderr) == (1, "no matching signature\n")
